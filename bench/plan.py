"""How big each section runs: full (`python -m bench`), `--quick` (under a minute) and `--smoke` (CI: only
checks that everything works; its timings mean little, so it also cuts what only makes timings readable — the
warm-up round, settling pauses, the sandbox's delivery delay — and runs side by side what is measured apart)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    name: str
    burst: int  # /help updates queued at once, per throughput round (both bots)
    rounds: int  # throughput rounds per bot; the best counts
    latency_cycles: int  # one user, one at a time: /help, /balance, /send, Send press
    mixed_users: int  # users doing those four steps concurrently, each step after the previous answer
    mixed_cycles: int  # cycles per user
    sends: int  # confirmed sends at volume
    send_users: int  # chats they come from
    send_latency: float  # gateway latency for them (Fault.SLOW), seconds
    tracking_sms: int  # pending SMS tracked over a simulated hour
    tracking_hours: float
    memory_updates: int  # updates handled before "RSS after updates"
    memory_sms: int  # SMS tracked before "RSS after tracking"
    startup_runs: int  # start-up measurements (and baselines); the median counts
    soak_updates: int  # a second load after the measurement, to see whether RSS stays flat
    batch_recipients: int = 50  # section 5a: one send to this many recipients, gateway latency 200 ms
    batch_pending: int = 20  # section 5b: this many such sends pending over a simulated hour
    batch_latency: float = 0.2  # section 5a's gateway latency, seconds
    warmup: bool = True  # a warm-up throughput round per bot before the measured ones
    settle: float = 1.0  # seconds the bot idles before its idle RSS (and half that before the last RSS)
    delivery_delay: float = 1.0  # the rig's sandbox: accepted SMS are delivered this many seconds later
    #: Side by side what full runs measure apart: the `import aiogram` baseline beside the echo bot's start-up,
    #: the in-process tracking sections (3, 5b; their own fake Telegram) beside the bot's sections, and the bare
    #: bot's latency right after its burst (one pause/resume pair less, ~1 s each for aiogram's back-off).
    overlap: bool = False
    warm_echo: bool = False  # the echo bot forked from the bench, aiogram imported (bench/spare.py)


FULL = Plan(
    name="full",
    burst=2000,
    rounds=3,
    latency_cycles=100,
    mixed_users=20,
    mixed_cycles=10,
    sends=500,
    send_users=100,
    send_latency=0.05,
    tracking_sms=1000,
    tracking_hours=1.0,
    memory_updates=10_000,
    memory_sms=1000,
    startup_runs=5,
    soak_updates=4000,
)

QUICK = Plan(
    name="quick",
    burst=500,
    rounds=4,  # paired rounds: their median ratio is what a shared machine leaves readable
    latency_cycles=30,
    mixed_users=10,
    mixed_cycles=4,
    sends=60,
    send_users=30,
    send_latency=0.05,
    tracking_sms=150,
    tracking_hours=1.0,
    memory_updates=2500,
    memory_sms=250,
    startup_runs=2,
    soak_updates=800,
)

SMOKE = Plan(
    name="smoke",
    burst=100,
    rounds=1,
    latency_cycles=5,
    mixed_users=3,
    mixed_cycles=2,
    sends=10,
    send_users=10,  # one SMS a chat: its two notices are the per-chat limit's 1 s apart, not four
    send_latency=0.05,
    tracking_sms=20,
    tracking_hours=1.0,
    memory_updates=300,
    memory_sms=10,
    startup_runs=1,
    soak_updates=100,
    batch_recipients=8,  # two rounds of SEND_CONCURRENCY 4
    batch_pending=2,
    batch_latency=0.1,
    warmup=False,
    settle=0.0,
    delivery_delay=0.2,  # before the bot's first check (DELIVERY_POLL_INITIAL 0.5): final at the first look
    overlap=True,
    warm_echo=True,
)
