"""Dispatching 10,000 due text reminders through Twilio's SDK to a local Twilio-compatible peer, against
the bare SDK calls (`client.messages.create`) to the same peer, measured in the same process.

    .venv/bin/python bench/dispatch.py [--blocks 20] [--block 500] [--profile] [--synchronous-commit-off]

One throw-away database (tms_bench_dispatch), migrated, the demo clinic seeded, then filled by generated
SQL (bench/_common.add_outbox): 20 sites x 10 chairs; per reminder a patient (SMS consent, E.164
phone, names rotating, every 5th in Spanish) with an active course of one session scheduled next week,
and one pending reminder due in the last few hours (kinds rotating over first/every/makeup/moved/taper).
The clock is fixed at 2026-11-26 09:00 Los Angeles (outside quiet hours).

The peer is tests/peers/twilio_peer.TwilioPeer, served in this process (127.0.0.1, keep-alive). The
dispatcher runs as the scheduler runs it: `dispatch_due(runtime, worker="bench")`, the runtime's sender a
TwilioSender(api_url=peer.url) and a status callback URL. The baseline is a second SDK client
(same TwilioHttpClient, same timeout) sending the same To, Body, From and StatusCallback as the
dispatcher's previous block did, one `client.messages.create` after the other, nothing else.

Timed in blocks of 500 reminders (10 claims of 50; `stop` ends dispatch_due after 10 batches), each
block followed or preceded (alternately) by 500 baseline calls, so the machine's noise falls on both
alike. Printed: totals, per-message ms, the ratio of the totals (goal <= 1.3), the median and p95 of
the blocks' per-message times, the round trips per message (statements + BEGIN + COMMIT), and the
checks that every reminder went exactly once. Then one more dispatch of 100 with the statements
counted and the time inside TwilioSender.send summed, and the latency of a durable one-row commit on
this machine (the least a per-message record can cost).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from _common import (
    ROOT,
    StatementCounter,
    add_outbox,
    add_texting_sites,
    bench_database,
    libpq_url,
    make_app,
    ms,
    print_header,
    profile_top,
)
from sqlalchemy import event
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.peers.twilio_peer import (  # _common put the project's root on sys.path
    DEFAULT_ACCOUNT_SID,
    DEFAULT_AUTH_TOKEN,
    PeerClient,
    TwilioPeer,
)
from tms_scheduler.services.dispatch import dispatch_due
from tms_scheduler.services.runtime import Runtime, Texting
from tms_scheduler.sms.sender import Outgoing, Sender
from tms_scheduler.sms.twilio_sender import TIMEOUT_SECONDS, TwilioSender

DATABASE = "tms_bench_dispatch"
NOW = datetime(2026, 11, 26, 17, 0, tzinfo=UTC)  # 09:00 in Los Angeles
FROM = "+17145550100"
CALLBACK = "https://tms.example.org/webhooks/twilio/status"
GOAL_RATIO = 1.3
WARMUP = 200  # dispatched (and as many bare calls made) before the timed blocks
COUNTED = 100  # dispatched once more with the statement counter on
PROFILED = 500  # with --profile


class TimedSender:
    """The runtime's sender with the time spent in its send() summed (the counted block only)."""

    def __init__(self, inner: Sender):
        self.inner = inner
        self.name = inner.name
        self.spent = 0.0

    def send(self, text: Outgoing) -> str:
        started = time.perf_counter()
        try:
            return self.inner.send(text)
        finally:
            self.spent += time.perf_counter() - started


def commit_latency(database: str, count: int = 300) -> tuple[float, float]:
    """Median and p95 ms of a durable one-row commit here (psycopg, autocommit UPDATE of a scratch
    row): the least a per-message record can cost on this machine's disk."""
    samples = []
    with psycopg.connect(libpq_url(database), autocommit=True) as raw:
        raw.execute("CREATE TABLE bench_commit_probe (id int PRIMARY KEY, n int)")
        raw.execute("INSERT INTO bench_commit_probe VALUES (1, 0)")
        for i in range(count):
            started = time.perf_counter()
            raw.execute("UPDATE bench_commit_probe SET n = %s WHERE id = 1", (i,))
            samples.append(time.perf_counter() - started)
        raw.execute("DROP TABLE bench_commit_probe")
    return ms(samples)


class Bench:
    def __init__(self, rt: Runtime, client: Client, raw: psycopg.Connection):
        self.rt = rt
        self.client = client
        self.raw = raw
        self.sent = 0  # by the dispatcher
        self.bare = 0  # by the baseline

    def dispatch(self, count: int) -> float:
        """`count` reminders (a multiple of the batch) through dispatch_due; seconds."""
        batches = count // self.rt.texting.batch
        asked = iter(range(batches + 1))
        started = time.perf_counter()
        report = dispatch_due(self.rt, worker="bench", stop=lambda: next(asked) >= batches)
        elapsed = time.perf_counter() - started
        if report.counts != {"sent": count}:
            sys.exit(f"dispatch_due did not send {count}: {report.counts}")
        self.sent += count
        return elapsed

    def last_texts(self, count: int) -> list[tuple[str, str]]:
        """The To and Body of the last `count` texts the dispatcher recorded (untimed)."""
        rows = self.raw.execute("SELECT phone, body FROM messages WHERE direction = 'out' ORDER BY id DESC LIMIT %s",
                                (count,)).fetchall()
        self.raw.commit()
        return [(phone, body) for phone, body in reversed(rows)]

    def baseline(self, texts: list[tuple[str, str]]) -> tuple[float, list[float]]:
        """The same texts as bare SDK calls, as TwilioSender makes them; the total seconds and each call's."""
        client = self.client
        each = []
        started = time.perf_counter()
        for to, body in texts:
            t0 = time.perf_counter()
            message = client.messages.create(to=to, body=body, status_callback=CALLBACK, from_=FROM)
            each.append(time.perf_counter() - t0)
            assert message.sid
        total = time.perf_counter() - started
        self.bare += len(texts)
        return total, each


@contextmanager
def peer_process():
    """The peer as its own process (as Twilio is another machine): its work does not share this
    process's interpreter lock with the dispatcher's senders."""
    process = subprocess.Popen([sys.executable, "-m", "tests.peers.twilio_peer", "--port", "0"], cwd=ROOT,
                               stdout=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().split()[-1]
        yield SimpleNamespace(url=url, account_sid=DEFAULT_ACCOUNT_SID, auth_token=DEFAULT_AUTH_TOKEN,
                              messages=PeerClient(url).messages)
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=Texting().concurrency,
                        help="texts in flight at once within a batch (the service's REMINDER_SEND_CONCURRENCY)")
    parser.add_argument("--in-process-peer", action="store_true",
                        help="serve the peer in this process (it then shares the interpreter with the dispatcher)")
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=500, help="reminders a block (a multiple of 50)")
    parser.add_argument("--profile", action="store_true", help=f"cProfile {PROFILED} more of each")
    parser.add_argument("--synchronous-commit-off", action="store_true",
                        help="(info only, not how the service runs) the bench database with synchronous_commit = "
                             "off: commits do not wait for the WAL flush")
    args = parser.parse_args()
    print_header("dispatching due reminders to a local Twilio peer vs the bare SDK calls")
    if args.synchronous_commit_off:
        print("NOTE: synchronous_commit = off for the bench database (--synchronous-commit-off): NOT the service's "
              "setting; commits return before their WAL is flushed")
    timed_count = args.blocks * args.block
    total = WARMUP + timed_count + COUNTED + (PROFILED if args.profile else 0)

    with (TwilioPeer() if args.in_process_peer else peer_process()) as peer, bench_database(DATABASE) as name:
        if args.synchronous_commit_off:
            with psycopg.connect(libpq_url("postgres"), autocommit=True) as admin:
                admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        app = make_app(name, NOW)
        engine = app.extensions["tms"].engine
        with psycopg.connect(libpq_url(name)) as raw:
            started = time.perf_counter()
            chairs = add_texting_sites(raw)
            add_outbox(raw, NOW, chairs, sessions=total, due=total)
            raw.autocommit = True
            raw.execute("VACUUM ANALYZE")
            raw.autocommit = False
            print(f"\n{total:,} due reminders ({total:,} patients, courses and sessions) filled and analysed in "
                  f"{time.perf_counter() - started:.1f} s")

            sender = TwilioSender(account_sid=peer.account_sid, auth_token=peer.auth_token, api_url=peer.url,
                                  from_number=FROM)
            rt = replace(app.extensions["tms"].runtime,
                         texting=Texting(sender=sender, status_callback_url=CALLBACK, concurrency=args.concurrency))
            client = Client(peer.account_sid, peer.auth_token, http_client=TwilioHttpClient(timeout=TIMEOUT_SECONDS))
            client.api.base_url = peer.url
            bench = Bench(rt, client, raw)
            print(f"peer {peer.url} ({'in this process' if args.in_process_peer else 'its own process'}); batch "
                  f"{rt.texting.batch}, {rt.texting.concurrency} in flight at once; {args.blocks} blocks of "
                  f"{args.block}; warm-up {WARMUP} of each")

            bench.dispatch(WARMUP)
            bench.baseline(bench.last_texts(WARMUP))
            sample = bench.last_texts(5)
            lengths = [len(b) for _, b in bench.last_texts(WARMUP)]
            print(f"bodies {min(lengths)}-{max(lengths)} characters (median {statistics.median(lengths):.0f}), e.g.:")
            for to, body in sample[:3]:
                print(f"  {to}: {body}")

            d_blocks: list[float] = []
            b_blocks: list[float] = []
            b_calls: list[float] = []
            previous = bench.last_texts(args.block)
            for i in range(args.blocks):
                if i % 2 == 0:
                    d_blocks.append(bench.dispatch(args.block))
                    previous = bench.last_texts(args.block)
                    seconds, each = bench.baseline(previous)
                else:
                    seconds, each = bench.baseline(previous)
                    d_blocks.append(bench.dispatch(args.block))
                    previous = bench.last_texts(args.block)
                b_blocks.append(seconds)
                b_calls += each

            # Round trips of one dispatch: statements, BEGINs and COMMITs, pool checkouts.
            counter = StatementCounter(engine)
            transactions = {"begin": 0, "commit": 0, "rollback": 0}

            def on(kind: str):
                def count(conn, *_) -> None:
                    # An autocommit connection sends no BEGIN, COMMIT or ROLLBACK: no round trip.
                    if counter.active and not conn.connection.dbapi_connection.autocommit:
                        transactions[kind] += 1
                return count

            for kind in transactions:
                event.listen(engine, kind, on(kind))
            timed_sender = TimedSender(sender)
            bench.rt = replace(rt, texting=replace(rt.texting, sender=timed_sender))
            with counter.counting():
                counted_seconds = bench.dispatch(COUNTED)
            bench.rt = rt
            commit_ms = commit_latency(name)
            statements = list(counter.statements)
            kinds = counter.kinds()
            checkouts = counter.checkouts

            if args.profile:
                print(f"\n== dispatch_due, {PROFILED} reminders")
                profile_top(lambda: bench.dispatch(PROFILED), 1, limit=30)
                texts = bench.last_texts(PROFILED)
                print(f"== bare client.messages.create, {PROFILED} calls")
                profile_top(lambda: bench.baseline(texts), 1, limit=20)

            # Every reminder went once: as the database says, and as the peer saw it.
            settled = dict(raw.execute("SELECT status, count(*) FROM reminders GROUP BY status").fetchall())
            messages, sids = raw.execute("SELECT count(*), count(DISTINCT twilio_sid) FROM messages").fetchone()
            raw.commit()
            accepted = len(peer.messages())
        engine.dispose()

    d_total, b_total = sum(d_blocks), sum(b_blocks)
    d_per = [s / args.block * 1000 for s in d_blocks]
    b_per = [s / args.block * 1000 for s in b_blocks]
    ratio = d_total / b_total

    def p95(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]

    print(f"\n{'what':52} {'n':>6} {'total s':>8} {'ms/msg':>7} {'block median':>13} {'block p95':>10}")
    print(f"{'dispatch_due -> TwilioSender -> peer':52} {timed_count:>6} {d_total:>8.2f} "
          f"{d_total / timed_count * 1000:>7.3f} {statistics.median(d_per):>13.3f} {p95(d_per):>10.3f}")
    print(f"{'baseline: bare client.messages.create -> peer':52} {timed_count:>6} {b_total:>8.2f} "
          f"{b_total / timed_count * 1000:>7.3f} {statistics.median(b_per):>13.3f} {p95(b_per):>10.3f}")
    print(f"(baseline single calls: median {statistics.median(b_calls) * 1000:.3f} ms, "
          f"p95 {p95(b_calls) * 1000:.3f} ms)")
    print(f"\nratio dispatch / bare SDK (totals): {ratio:.2f}x   goal <= {GOAL_RATIO}: "
          f"{'MET' if ratio <= GOAL_RATIO else 'MISSED'}")
    pairs = sorted(d / b for d, b in zip(d_blocks, b_blocks, strict=True))
    print(f"ratio of the block medians: {statistics.median(d_per) / statistics.median(b_per):.2f}x; block by block "
          f"(each dispatch block over its baseline block): median {statistics.median(pairs):.2f}x, "
          f"{pairs[0]:.2f}x to {pairs[-1]:.2f}x; extra per message: {(d_total - b_total) / timed_count * 1000:.3f} ms")

    n = COUNTED
    in_send = timed_sender.spent / n * 1000
    print(f"\nwhere a message's time goes (one more dispatch of {n}, sender timed): {counted_seconds / n * 1000:.3f} "
          f"ms a message, of which {in_send:.3f} ms in TwilioSender.send (the bare call: "
          f"{statistics.median(b_calls) * 1000:.3f} ms) and {counted_seconds / n * 1000 - in_send:.3f} ms the "
          f"dispatcher's own (claims, checks, the text, the record)")
    commit_kind = "a one-row commit with synchronous_commit off" if args.synchronous_commit_off else \
        "a durable one-row commit on this machine"
    print(f"{commit_kind} (psycopg, autocommit UPDATE): median {commit_ms[0]:.3f} ms, "
          f"p95 {commit_ms[1]:.3f} ms; the goal leaves {(GOAL_RATIO - 1) * b_total / timed_count * 1000:.3f} ms "
          f"a message for everything but the SDK call")
    round_trips = len(statements) + transactions["begin"] + transactions["commit"] + transactions["rollback"]
    print(f"\none dispatch of {n} reminders ({n // rt.texting.batch} claims): {len(statements)} statements "
          f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))}); sent outside autocommit: "
          f"{transactions['begin']} BEGIN, "
          f"{transactions['commit']} COMMIT, {transactions['rollback']} ROLLBACK, {checkouts} pool checkouts: "
          f"{round_trips / n:.2f} database round trips a message")
    seen: list[str] = []
    for s in statements:
        if s not in seen:
            seen.append(s)
    print("  distinct statements:")
    for s in seen:
        print(f"    x{statements.count(s):<4} {s}")

    went = settled.get("sent", 0)
    print(f"\nreminders by status: {settled}; messages {messages:,} ({sids:,} distinct sids); "
          f"peer accepted {accepted:,} = {bench.sent:,} dispatched + {bench.bare:,} bare")
    once = went == bench.sent == messages == sids and accepted == bench.sent + bench.bare and not settled.get("pending")
    print(f"every reminder sent exactly once: {once}")
    if not once:
        sys.exit(1)


if __name__ == "__main__":
    main()
