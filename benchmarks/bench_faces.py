"""Face engine figures on the real photos and clips in ../shared.

    uv run python benchmarks/bench_faces.py [--full] [--write-docs]

Prints: per-frame liveness latency (p50/p95) and its ratio to the bare FaceLandmarker call;
per-snapshot match latency and its ratio to the bare face_recognition encoding; same- and
different-person distances over all photo pairs with false match / false non-match rates at
the default tolerance; photo-attack acceptance per attack type and genuine-clip rejection.
``--write-docs`` also replaces the figures block in docs/faces.md. ``--full`` runs the dlib
liveness attacks on every photo (default: every other photo, to stay within a few minutes).
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core import Action as A  # noqa: E402
from core import IdentityCheck, LivenessSession, portrait_encoding  # noqa: E402
from core.testing import face_media as media  # noqa: E402
from plugins.face_dlib import DlibProvider  # noqa: E402
from plugins.face_mediapipe import MediaPipeProvider  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "faces.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


class Report:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def bench_liveness(out: Report, mp: MediaPipeProvider, dl: DlibProvider) -> None:
    frames = media.read_clip(media.videos_dir() / "obama_weekly_address_blinks.mp4")  # 640×360
    frames += media.read_clip(media.videos_dir() / "grid_id2_blinks.mpg")
    for _, f in frames[:3]:  # warm up (model load)
        mp.raw_detect(f)
        dl.observe(f)
    bare = []
    for _, f in frames:
        t = time.perf_counter()
        mp.raw_detect(f)
        bare.append(time.perf_counter() - t)
    rows = []
    for name, prov in (("mediapipe", mp), ("dlib", dl)):
        s = LivenessSession(prov, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH)))
        s.prompt_shown(0, 0)
        per = []
        t_ms = 0
        for _, f in frames:
            t_ms += 40
            t = time.perf_counter()
            g = s.add_frame(f, t_ms)
            per.append(time.perf_counter() - t)
            if g.done:  # keep measuring on a fresh session
                s = LivenessSession(prov, media.fixed_challenge((A.BLINK, A.OPEN_MOUTH)))
                s.prompt_shown(0, t_ms + 1)
        rows.append((name, per))
    b50 = pct(bare, 50)
    out("## Per-frame liveness latency")
    out()
    out(f"{len(frames)} frames (obama clip at 640×360 and GRID clip at 360×288), one core busy, whole `add_frame` call")
    out("(decode-free RGB in → signals → judge → guidance, incl. keeping the JPEG evidence copy).")
    out()
    out("| provider | p50 | p95 | ratio p50 to bare FaceLandmarker call |")
    out("|---|---|---|---|")
    out(f"| bare FaceLandmarker.detect | {ms(b50)} | {ms(pct(bare, 95))} | 1.00 |")
    for name, per in rows:
        out(f"| {name} session | {ms(pct(per, 50))} | {ms(pct(per, 95))} | {pct(per, 50) / b50:.2f} |")
    out()


def bench_matching(out: Report, dl: DlibProvider) -> None:
    import dlib

    snaps = [f for _, f in media.read_clip(media.videos_dir() / "obama_weekly_address_blinks.mp4", step=5)]
    portrait = portrait_encoding(dl, media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg"))
    rects = []
    for f in snaps:
        (b,) = dl.detect(f)
        rects.append(dlib.rectangle(int(b.x), int(b.y), int(b.x + b.w), int(b.y + b.h)))
    dl.raw_encode(snaps[0], rects[0])
    bare, full, dists = [], [], []
    for f, r in zip(snaps, rects):
        t = time.perf_counter()
        dl.raw_encode(f, r)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        d = dl.distance(portrait, dl.encode(f))  # detection on the downscaled snapshot + encoding
        full.append(time.perf_counter() - t)
        dists.append(d)
    out("## Per-snapshot match latency")
    out()
    out(f"{len(snaps)} webcam snapshots (obama clip, 640×360) against the stored portrait's encoding.")
    out()
    out("| step | p50 | p95 | ratio p50 to bare encoding |")
    out("|---|---|---|---|")
    out(f"| bare face_recognition encoding (known face box) | {ms(pct(bare, 50))} | {ms(pct(bare, 95))} | 1.00 |")
    out(f"| match: detect + encode + distance | {ms(pct(full, 50))} | {ms(pct(full, 95))} | {pct(full, 50) / pct(bare, 50):.2f} |")
    out()
    out(f"Snapshot-to-portrait distances: {min(dists):.3f}–{max(dists):.3f} (same person, all ≤ tolerance: {all(d <= dl.default_tolerance for d in dists)}).")
    out()


def bench_distances(out: Report, dl: DlibProvider) -> None:
    photos = media.single_person_photos()
    enc = {p: dl.encode(media.load_photo(p)) for p in photos}
    same, diff = [], []
    for a, b in itertools.combinations(photos, 2):
        d = dl.distance(enc[a], enc[b])
        (same if media.person_of(a) == media.person_of(b) else diff).append((d, a, b))
    tol = dl.default_tolerance
    out("## Identity distances (face_recognition, 128-d)")
    out()
    out(f"{len(photos)} single-person photos of {len(media.person_photos())} people, all {len(same) + len(diff)} pairs.")
    out()
    out("| pairs | n | min | median | max |")
    out("|---|---|---|---|---|")
    for name, vals in (("same person", same), ("different people", diff)):
        v = [x[0] for x in vals]
        out(f"| {name} | {len(v)} | {min(v):.3f} | {statistics.median(v):.3f} | {max(v):.3f} |")
    hi = max(same)
    lo = min(diff)
    out()
    out(f"Closest different people: {lo[1].name} / {lo[2].name} ({lo[0]:.3f}); farthest same person: {hi[1].name} / {hi[2].name} ({hi[0]:.3f}).")
    out()
    out("| tolerance | false match rate | false non-match rate |")
    out("|---|---|---|")
    for t in sorted({0.50, 0.55, tol, 0.65, 0.70}):
        fmr = sum(d <= t for d, *_ in diff) / len(diff)
        fnmr = sum(d > t for d, *_ in same) / len(same)
        mark = " (default)" if t == tol else ""
        out(f"| {t:.2f}{mark} | {fmr:.1%} ({sum(d <= t for d, *_ in diff)}/{len(diff)}) | {fnmr:.1%} ({sum(d > t for d, *_ in same)}/{len(same)}) |")
    out()


def _attack(prov, matcher, detect, path, kind):
    actions, schedule = media.ATTACK_CHALLENGES[kind]
    if not set(actions) <= prov.liveness_actions:
        actions, schedule = (A.BLINK, A.OPEN_MOUTH), (800, 2000)
    identity = None
    if kind == "swap":
        identity = IdentityCheck(matcher, portrait_encoding(matcher, media.load_photo(path)))
    frames = media.attack_inputs(detect, path, kind)
    s = LivenessSession(prov, media.fixed_challenge(actions), identity=identity)
    verdict, _ = media.drive(s, frames, schedule, stop_when_done=kind != "swap")
    return verdict


def bench_attacks(out: Report, mp: MediaPipeProvider, dl: DlibProvider, full: bool) -> None:
    photos = media.single_person_photos()
    out("## Photo attacks and genuine clips")
    out()
    out("Attacks synthesised from the single-person photos (8 fps, 5 s, 640×480, perspective-correct card):")
    out("still, slide (±22 % of the width), tilt (±40° about the vertical axis), tilt_nod (±40° about the")
    out("horizontal axis), flick (60° flicks to squeeze eyes / widen the mouth), zoom (0.6×–1.35×), swap (another")
    out("person's photo half-way, portrait = the first person). Challenge = the one most favourable to the attacker.")
    out()
    out("| liveness provider | attack | photos | wrongly accepted | rejection reasons seen |")
    out("|---|---|---|---|---|")
    t0 = time.perf_counter()
    for name, prov, subset in (("mediapipe", mp, photos), ("dlib", dl, photos if full else photos[::2])):
        for kind in media.ATTACKS:
            accepted, reasons = 0, {}
            for p in subset:
                v = _attack(prov, dl, mp.detect, p, kind)
                accepted += v.passed
                for c in v.codes:
                    reasons[c.value] = reasons.get(c.value, 0) + 1
            why = ", ".join(f"{k} ×{n}" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
            out(f"| {name} | {kind} | {len(subset)} | {accepted}/{len(subset)} ({accepted / len(subset):.0%}) | {why} |")
    out()
    out(f"(attack runs took {time.perf_counter() - t0:.0f} s)")
    out()
    v = media.videos_dir()
    clips = {n: media.read_clip(v / n) for n in ("obama_weekly_address_blinks.mp4", "grid_id2_blinks.mpg", "intel_head_turn.gif")}
    obama = portrait_encoding(dl, media.load_photo(media.faces_dir() / "obama" / "obama_1.jpg"))
    cases = [
        ("obama: blink, open mouth (+identity)", "obama_weekly_address_blinks.mp4", (A.BLINK, A.OPEN_MOUTH), (500, 950), obama),
        ("obama: open mouth, blink (+identity)", "obama_weekly_address_blinks.mp4", (A.OPEN_MOUTH, A.BLINK), (1300, 1750), obama),
        ("grid: open mouth, blink", "grid_id2_blinks.mpg", (A.OPEN_MOUTH, A.BLINK), (700, 900), None),
        ("intel: turn left, turn right", "intel_head_turn.gif", (A.TURN_LEFT, A.TURN_RIGHT), (250, 1000), None),
    ]
    out("| liveness provider | genuine clip and challenge | verdict |")
    out("|---|---|---|")
    rejected = total = 0
    for name, prov in (("mediapipe", mp), ("dlib", dl)):
        for label, clip, acts, sched, portrait in cases:
            if not set(acts) <= prov.liveness_actions:
                continue
            ident = IdentityCheck(dl, portrait) if portrait is not None else None
            verdict, _ = media.drive(LivenessSession(prov, media.fixed_challenge(acts), identity=ident), clips[clip], sched)
            total += 1
            rejected += not verdict.passed
            out(f"| {name} | {label} | {'passed' if verdict.passed else 'REJECTED: ' + ', '.join(verdict.reasons)} |")
    out()
    out(f"Genuine clips wrongly rejected: {rejected}/{total} ({rejected / total:.0%}).")
    out()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="dlib attacks on every photo")
    ap.add_argument("--write-docs", action="store_true", help="replace the figures block in docs/faces.md")
    args = ap.parse_args()
    out = Report()
    mp, dl = MediaPipeProvider(), DlibProvider()
    out(f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, no GPU.")
    out()
    t0 = time.perf_counter()
    bench_liveness(out, mp, dl)
    bench_matching(out, dl)
    bench_distances(out, dl)
    bench_attacks(out, mp, dl, args.full)
    out(f"Total benchmark time: {time.perf_counter() - t0:.0f} s.")
    if args.write_docs and DOCS.exists():
        text = DOCS.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(head + START + "\n\n" + "\n".join(out.lines) + "\n\n" + END + tail)
            print(f"\nwrote figures into {DOCS}")
    mp.close()


if __name__ == "__main__":
    main()
