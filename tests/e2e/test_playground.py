"""`python -m bot playground` with piped stdin: the transcript a person would see, end to end.

Every scripted run is a process of its own (sandbox gateway + fake Telegram + the real bot, on 127.0.0.1), its
stdin piped from the script and its stdout and stderr read apart, started from an empty temporary directory
(with a hostile `.env` in one) so nothing depends on the working directory. The runs are forked from the fork
server (tests/support/forkserver.py: `python -m bot playground` without paying its imports again; the imports
are not what these tests are about) and started together when the module's first test asks for one, so the
module takes about as long as its slowest run (the ladder watches for 9 s), not their sum.

Each script runs once per test run, whichever xdist workers the module's tests land on: under a lock in the
run's shared temporary folder, the first worker to ask runs it and keeps its transcript there; another waits
for it and reads the same transcript. (`xdist_group` cannot keep the tests on one worker: pytest-xdist 3.8
under pytest 9.2 ignores it, pytest-dev/pytest-xdist#1386.)
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.devkit.playground import describe_magic, pick_language
from bot.devkit.sandbox import MAGIC_NUMBERS
from tests.support.deploy_fixtures import exit_or_kill
from tests.support.forkserver import fork_server
from tests.support.image import run_folder

REPO = Path(__file__).resolve().parent.parent.parent
RUN_TIMEOUT = 120  # every script runs at once, beside the rest of the suite on a loaded two-core machine


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    def after(self, marker: str) -> str:
        """The transcript from the first line containing ``marker`` on."""
        index = self.stdout.find(marker)
        assert index >= 0, f"{marker!r} not in the transcript:\n{self.stdout}"
        return self.stdout[index:]


@dataclass(frozen=True)
class Script:
    stdin: str
    args: tuple[str, ...] = ("-m", "bot", "playground")
    lang: str = "en_US.UTF-8"
    hostile_env_file: bool = False


SCRIPTS: dict[str, Script] = {
    # LANG=en_US picks English (the default is ru); a hostile .env in the working directory is not read
    "basics": Script(
        "5\n:bogus\n/start\n/balance\n1\n/send\n:contact +79041764995\n1\n:quit\n/balance\n", hostile_env_file=True
    ),
    "sends": Script("/send +7 904 176-49-95 Hello\n3\n2\n1\n/send 79000000051 Test\n1\n"),
    # The address book starts empty and works at once (issue 16): save, list, a send in taps, duty, a group.
    "people": Script(
        "/contact Ivan Petrov +7 904 176-49-95\n/contacts\n/send\n1\nServer down\n1\n/duty ivan\n/duty\n"
        "/group Ops: Ivan Petrov, 79000000051\n/groups\n:contact +79161234567\n2\n"
    ),
    "access": Script(":stranger\nhi\n:me\n1\n:stranger\n/balance\n"),
    # issue 28: a ladder of seconds (the playground's minutes) climbs after :alert, and each auto-SMS is shown
    "ladder": Script(
        "/contact Olga +7 904 176-49-95\n/duty Olga\n/escalation 2 duty, 4 +7 916 123-45-67\n:alert\n:wait 9\n"
    ),
    # issue 17: five sandbox numbers in one send (delivered, rejected, failing, never final, rejected), then the
    # summary's Resend to failed, pressed after watching the summary for a while
    "batch": Script(
        "/send 79041764995, 79000000051, 79000000003, 79000000031, 79000000061 db1 is down, call Olga\n1\n:wait 8\n1\n"
    ),
    # issue 28: `:alert critical` posts a critical alert the operator takes with ✋; :help lists it
    "alert": Script(":alert critical\n2\n:wait 2\n:help\n"),
    # --lang wins over LANG; --db keeps the database (the options of `python -m bot playground`, given here to
    # the same main() through its own module entry)
    "options": Script("/balance\n", args=("-m", "bot.devkit.playground", "--lang", "ru", "--db", "kept/bot.sqlite3")),
}


def _run(script: Script, cwd: Path, io: Path) -> Run:
    """`python <script.args>` in `cwd`, `script.stdin` piped in; the output kept in `io` (outside `cwd`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(LANG=script.lang, PYTHONIOENCODING="utf-8", PYTHONPATH=str(REPO))
    if script.hostile_env_file:
        (cwd / ".env").write_text("BOT_TOKEN=broken\nDATABASE_PATH=/nonexistent/dir/x.sqlite3\nADMIN_IDS=oops\n")
    stdin, stdout, stderr = io / "stdin", io / "stdout", io / "stderr"
    stdin.write_text(script.stdin, encoding="utf-8")
    flag, module, *args = script.args
    assert flag == "-m"
    server = fork_server()
    pid = server.spawn_now(env, cwd, stdout, args, stdin=stdin, err=stderr, module=None if module == "bot" else module)
    code = exit_or_kill(server, pid, RUN_TIMEOUT)
    return Run(code, stdout.read_text(encoding="utf-8"), stderr.read_text(encoding="utf-8"))


def _once(name: str, script: Script, shared: Path) -> Run:
    """The script's run, made once in this test run (see the module's docstring): its transcript in `shared`."""
    folder, done = shared / name, shared / name / "run.json"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            (folder / "cwd").mkdir(parents=True)
            (folder / "io").mkdir()
            done.write_text(json.dumps(dataclasses.asdict(_run(script, folder / "cwd", folder / "io"))))
    return Run(**json.loads(done.read_text()))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Run]]]:
    shared = run_folder(tmp_path_factory) / "playground-runs"
    shared.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=len(SCRIPTS)) as pool:
        yield {name: pool.submit(_once, name, script, shared) for name, script in SCRIPTS.items()}


def result(runs: dict[str, Future[Run]], name: str) -> Run:
    run = runs[name].result(timeout=RUN_TIMEOUT + 10)
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert "Traceback" not in run.stderr, run.stderr
    return run


def test_header_shows_controls_and_magic_numbers(runs: dict[str, Future[Run]]) -> None:
    out = result(runs, "basics").stdout
    assert "You are Alex (Telegram id 1001), an admin. Language: en" in out
    assert "a number (1, 2 ...) presses that button of the last message with buttons" in out
    assert ":stranger" in out and ":me" in out and ":contact +79041764995" in out and ":quit" in out
    assert "79000000051  accepted, then rejected (5|REJECTD)" in out
    assert "79000000071  accepted, then expired (7|EXPIRED)" in out
    assert "79000000003  send fails: error 3 (Sent Error)" in out
    assert "79000000031  accepted (3|ACCEPTD), never final" in out
    assert "(temporary; --db PATH keeps one)" in out


def test_start_balance_and_refresh(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "basics")
    start = run.after("you: /start")
    assert start.startswith("you: /start\nbot: 👋 Hello! You have access.")
    assert "/allow" in start  # the admin's help
    balance = run.after("you: /balance")
    assert balance.startswith("you: /balance\nbot: 💰 Balance: 1\u00a0000 (at ")
    # The press is answered with a toast; the message is edited unless the time shown is still the same second.
    assert (
        "\n     [1] 🔄 Refresh\nyou: 1\n     (pressed [1] 🔄 Refresh)\nbot: 💬 toast: Checking the balance…" in balance
    )
    assert not run.stderr.strip(), run.stderr  # the bot's logs stay out of the chat, and nothing was worth one


def test_notes_contact_and_quit(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "basics")
    assert "you: 5\n     (no message with buttons to press yet" in run.stdout
    assert "you: :bogus\n     (unknown command :bogus; :help lists them)" in run.stdout
    contact = run.after("you: :contact +79041764995")
    assert contact.startswith("you: :contact +79041764995\n     (shared a contact: +79041764995)\n")
    assert (
        "To +7\u00a0904\u00a0176\u201149\u201195. Now send the text" in contact
    )  # the contact is the number of the guided /send
    assert "     [1] ✖️ Cancel\nyou: 1\n     (pressed [1] ✖️ Cancel)" in contact
    assert run.stdout.rstrip().endswith("you: :quit")  # nothing after :quit is read


def test_full_send_with_delivery_notice(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "sends")
    send = run.after("you: /send +7 904 176-49-95 Hello")
    assert "bot: 📨 Check before sending\n     To: +7\u00a0904\u00a0176\u201149\u201195\n     Sender: OnCall" in send
    assert (
        "     [1] ✅ Send  [2] ✖️ Cancel\n     [3] ✉️ Sender: OnCall\nyou: 3\n     (pressed [3] ✉️ Sender: OnCall)" in send
    )
    assert "\nbot: 💬 toast: Choose the sender\nbot: ✏️ edited: 📨 Check before sending\n" in send  # the callback answer
    assert "     [1] • OnCall\n     [2] Backup\nyou: 2\n" in send
    chosen = run.after("     (pressed [2] Backup)")
    assert "     Sender: Backup\n" in chosen
    assert "     (was: Sender: OnCall)\n     [1] ✅ Send  [2] ✖️ Cancel\n     [3] ✉️ Sender: Backup\nyou: 1\n" in chosen
    sent = run.after("bot: ✏️ edited: 📤 Sent to +7\u00a0904\u00a0176\u201149\u201195.")
    assert "balance left: 999" in sent
    assert "(was: 📨 Check before sending)" in sent
    # the delivery notice, on its own: the "Sent" message is edited, and a reply makes the phone ring
    notice = run.after("bot: ✏️ edited: ✅ SMS to +7\u00a0904\u00a0176\u201149\u201195: delivered.")
    assert "(was: 📤 Sent to +7\u00a0904\u00a0176\u201149\u201195.)" in notice
    assert "\nbot: ✅ SMS to +7\u00a0904\u00a0176\u201149\u201195: delivered." in notice


def test_send_to_a_magic_number_ends_rejected(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "sends")
    assert "To: +7\u00a0900\u00a0000\u201100\u201151" in run.after("you: /send 79000000051 Test")
    sent = run.after("bot: ✏️ edited: 📤 Sent to +7\u00a0900\u00a0000\u201100\u201151.")
    assert "balance left: 998" in sent
    assert "bot: ✏️ edited: ❌ SMS to +7\u00a0900\u00a0000\u201100\u201151: rejected" in sent
    assert "\nbot: ❌ SMS to +7\u00a0900\u00a0000\u201100\u201151: rejected" in sent
    assert "+7\u00a0900\u00a0000\u201100\u201151: delivered" not in run.stdout


def test_contacts_duty_and_groups_with_nothing_to_set_up(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "people")
    assert "bot: ✅ Saved: Ivan Petrov — +7\u00a0904\u00a0176\u201149\u201195" in run.stdout
    assert (
        "• Ivan Petrov — +7\u00a0904\u00a0176\u201149\u201195\n     [1] 📨 Ivan Petrov\n     [2] ➕ Add"
        in run.after("you: /contacts")
    )
    send = run.after("you: /send\n")
    assert (
        "[1] 👤 Ivan Petrov" in send
        and "To Ivan Petrov (+7\u00a0904\u00a0176\u201149\u201195). Now send the text" in send
    )
    assert "(pressed [1] ✅ Send)" in send and "📤 Sent to Ivan Petrov (+7\u00a0904\u00a0176\u201149\u201195)." in send
    assert "On duty now: Ivan Petrov (+7\u00a0904\u00a0176\u201149\u201195)" in run.after("you: /duty ivan")
    assert "Set by Alex" in run.after("you: /duty\n")
    assert "Ops · members: 2" in run.after("you: /group Ops") and "👥 Ops" in run.after("you: /groups")
    shared = run.after("you: :contact +79161234567")
    assert (
        "[1] 📨 Send SMS  [2] 💾 Save contact" in shared
        and "Saved: Contact — +7\u00a0916\u00a0123\u201145\u201167" in shared
    )


def test_stranger_asks_and_admin_approves(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "access")
    assert run.after("you: :stranger").startswith("you: :stranger\n— you are Sam now (a second person, no access")
    refusal = run.after("sam: hi")
    assert "bot: ⛔ This bot is only for authorised on-call staff.\n     Your Telegram id: 5005" in refusal
    assert "(🔔 news for Alex — :me to see it)" in refusal
    back = run.after("sam: :me")
    assert back.startswith(
        "sam: :me\n— you are Alex now (the admin) —\n     (while you were away:)\n"
        "bot: 🔔 Access request from Sam, id 5005.\n     [1] ✅ Approve  [2] 🚫 Deny\nyou: 1\n"
        "     (pressed [1] ✅ Approve)\nbot: ✏️ edited: ✅ Sam (id 5005) was given access by Alex.\n"
    )
    assert "(🔔 news for Sam — :stranger to see it)" in back
    assert "bot: ✅ You now have access." in run.after("you: :stranger")
    assert "bot: 💰 Balance: 1\u00a0000" in run.after("sam: /balance")  # Sam is an operator now


def test_lang_and_db_options(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "options")
    assert "Language: ru" in run.stdout
    assert "bot: 💰 Баланс: 1\u00a0000" in run.after("you: /balance")
    assert "     [1] 🔄 Обновить" in run.stdout
    kept = [line for line in run.stdout.splitlines() if line.startswith("Database: ")]
    assert kept and kept[0].endswith("kept/bot.sqlite3 (kept).")
    assert Path(kept[0].removeprefix("Database: ").removesuffix(" (kept).")).is_file()


def test_pick_language() -> None:
    assert pick_language("en", {"LANG": "ru_RU.UTF-8"}) == "en"
    assert pick_language(None, {"LANG": "en_GB.UTF-8"}) == "en"
    assert pick_language(None, {"LANG": "ru_RU.UTF-8"}) == "ru"
    assert pick_language(None, {"LANG": "de_DE.UTF-8"}) == "ru"
    assert pick_language(None, {"LANG": "C.UTF-8"}) == "ru"
    assert pick_language(None, {"LC_ALL": "en_US.UTF-8", "LANG": "ru_RU.UTF-8"}) == "en"
    assert pick_language(None, {}) == "ru"


def test_every_magic_number_has_a_short_description() -> None:
    for magic in MAGIC_NUMBERS.values():
        text = describe_magic(magic)
        assert text and "\n" not in text and len(text) < 70, text


def test_a_send_to_five_sandbox_numbers_shows_progress_the_summary_and_resends_to_the_failed(
    runs: dict[str, Future[Run]],
) -> None:
    run = result(runs, "batch")
    preview = run.after("bot: 📨 Check before sending: 5 recipients")
    assert "Text: 22 characters, 1 SMS each; 5 SMS in all" in preview
    assert "[1] ✅ Send to 5  [2] ✖️ Cancel" in preview
    assert "📤 Sending" in run.after("(pressed [1] ✅ Send to 5)")
    summary = run.after(
        "     ❌ Rejected, expired or deleted: 2 — +7\u00a0900\u00a0000\u201100\u201151, +7\u00a0900\u00a0000\u201100\u201161"
    )
    assert "⛔ Failed to send: 1 — +7\u00a0900\u00a0000\u201100\u201103" in summary
    assert (
        "📤 Not final yet: 1 — +7\u00a0900\u00a0000\u201100\u201131" in summary
        and "[1] 🔁 Resend to failed (3)" in summary
    )
    again = run.after("(pressed [1] 🔁 Resend to failed (3))")
    assert "bot: 📨 Check before sending: 3 recipients" in again and "+7\u00a0904\u00a0176\u201149\u201195" not in again
    # one ringing notice of the first send (the watchdog's: one number is never final); nothing per recipient
    assert run.stdout.count("bot: 🔔") == 1 and "Not every SMS is final" in run.stdout
    assert "SMS to +7\u00a0900\u00a0000\u201100\u201151: rejected" not in run.stdout


def test_a_ladder_of_seconds_sends_its_auto_sms_after_an_alert(runs: dict[str, Future[Run]]) -> None:
    out = result(runs, "ladder").stdout
    assert "Escalation set" in out and "FIRING" in out
    assert "Auto-SMS to Olga (duty)" in out and "Auto-SMS to +7" in out


def test_alert_critical_can_be_taken_with_the_hand_and_help_lists_it(runs: dict[str, Future[Run]]) -> None:
    run = result(runs, "alert")
    posted = run.after("you: :alert critical")
    assert "posted a firing critical alert 'DiskFull'" in posted and "Severity: critical" in posted
    assert "[1] 📨 SMS to duty  [2] ✋ I'm on it" in posted
    taken = run.after("(pressed [2] ✋ I'm on it)")
    assert "toast: ✋ You're on it: everyone sees it." in taken
    assert "[1] 📨 SMS to duty  [2] ↩️ Let go" in taken
    assert "team bot: ✏️ edited:" in taken and "✋ " in taken.split("team bot: ✏️ edited:")[1]
    assert ":alert [SEVERITY] [NAME]" in run.after("you: :help") and "✋ I'm on it takes it" in run.stdout
