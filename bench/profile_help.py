"""Where one /help update spends the bot's time: `python -m bench.profile_help [--pg URL] [--updates N]`.

The whole bot in this process (the dev kit's harness: the fake Bot API server and the sandbox gateway on loopback,
SQLite in a temporary folder, or PostgreSQL at a fresh database of `--pg`'s server), twenty operators; after a
warm-up, `--updates` /help updates are queued at once and cProfile runs until the last is answered. Prints the
functions of `bot/` (not the dev kit) by their own time, then everything by own time, per update. The fake server
runs in the same process: its lines are the rig's, not the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench import engines
from bot.devkit.harness import Harness

USERS = tuple(range(5001, 5021))


async def profile(updates: int, pg_url: str | None) -> tuple[pstats.Stats, float]:
    url = await engines.fresh_database(pg_url) if pg_url else None
    with tempfile.TemporaryDirectory(prefix="profile-help-") as tmp:
        async with Harness(Path(tmp), admin_ids=USERS, database_url=url) as rig:
            people = [rig.telegram.user(u, f"User {u}", language_code="en") for u in USERS]

            async def burst(n: int) -> None:
                expected = sum(len(p.messages) for p in people) + n
                for i in range(n):
                    await people[i % len(people)].send("/help")
                answered = lambda: True if sum(len(p.messages) for p in people) >= expected else None  # noqa: E731
                await rig.telegram._signal.wait_until(answered, 60)

            await burst(len(USERS) * 3)  # warm-up: every operator seen, every cache filled
            assert rig.app is not None
            statements: Counter[str] = Counter()
            rig.app.db.statements.observer = lambda sql: statements.update([" ".join(sql.split()[:4])])
            freshness = getattr(rig.app.db, "freshness", None)  # None before issue 26.7's stamps
            forgotten = freshness.forgotten if freshness is not None else 0
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            await burst(updates)
            profiler.disable()
            wall = time.perf_counter() - started
            rig.app.db.statements.observer = None
            print(f"statements during the {updates} updates (the bot's background loops' too):")
            for sql, count in statements.most_common(12):
                print(f"  {count:6d}  {sql}")
            if freshness is not None:
                print(f"caches forgotten: {freshness.forgotten - forgotten} times")
    return pstats.Stats(profiler), wall


def top(stats: pstats.Stats, updates: int, ours: bool, lines: int) -> str:
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if ours and ("/bot/" not in path or "/devkit/" in path):
            continue
        short = path.split("/bot/", 1)[-1] if "/bot/" in path else path.rsplit("/", 2)[-1]
        rows.append((own, cumulative, calls, f"{short}:{line}({name})"))
    rows.sort(reverse=True)
    out = io.StringIO()
    out.write(f"{'own µs/upd':>10} {'cum µs/upd':>10} {'calls/upd':>9}  function\n")
    for own, cumulative, calls, where in rows[:lines]:
        out.write(f"{own / updates * 1e6:10.1f} {cumulative / updates * 1e6:10.1f} {calls / updates:9.2f}  {where}\n")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", help="postgresql://… (a fresh database is made on its server)")
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--dump", help="write the raw profile there too (python -m pstats reads it)")
    args = parser.parse_args()
    updates = args.updates - args.updates % len(USERS)
    stats, wall = asyncio.run(profile(updates, args.pg))
    if args.dump:
        stats.dump_stats(args.dump)
    total = sum(own for (_, _, own, _, _) in stats.stats.values())  # type: ignore[attr-defined]
    print(f"{updates} /help updates, {'PostgreSQL' if args.pg else 'SQLite'}: wall {wall:.2f} s under the profiler")
    print(f"profiled CPU per update (bot and rig): {total / updates * 1e6:.0f} µs")
    print("\nthe bot's own functions (bot/, not the dev kit), by own time:")
    print(top(stats, updates, True, args.lines))
    print("everything, by own time:")
    print(top(stats, updates, False, args.lines))


if __name__ == "__main__":
    main()
