"""Matcher figures per matcher and per population: how well each face matcher tells people apart.

    uv run python benchmarks/bench_matchers.py [--population NAME=DIR ...]

A population is a folder with one sub-folder per person holding that person's photos (and any
clips). Always measured: the six people of ../shared/faces (with the webcam frames of the obama
clip as obama's and the GRID clip's speaker as a seventh person), and ``../shared/faces_east_asian``
when it exists. For each matcher (dlib, SFace) and population it prints: image-pair false match
and false non-match rates at the matcher's default tolerance, the closest impostor and farthest
genuine distance with their margins, the FMR/FNMR curve around the tolerance, and session-level
identity: a stand-in (person B's frames against person A's portrait, judged by the session's rule:
the distance ``IDENTITY_SHARE`` of the frames are within) passing, and the genuine person refused.
Called by benchmarks/bench_faces.py for the figures in docs/faces.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from core import FaceError, LivenessSession  # noqa: E402
from core.faces.session import within_share  # noqa: E402
from core.testing import face_media as media  # noqa: E402
from plugins.face_dlib import DlibProvider  # noqa: E402
from plugins.face_sface import SFaceProvider  # noqa: E402

CLIP_SUFFIXES = (".mp4", ".mpg", ".webm", ".mov", ".avi")
CURVES = {"dlib": np.round(np.arange(0.40, 0.7001, 0.05), 2), "sface": np.round(np.arange(0.90, 1.2001, 0.02), 2)}


@dataclass
class Person:
    photos: list[Path]
    frames: list[tuple[str, np.ndarray]]  # (label, RGB) webcam frames; empty without a clip


def _population_dir(root: Path) -> dict[str, Person]:
    people = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "groups"):
        photos = sorted(f for f in d.iterdir() if f.suffix.lower() in media.IMAGE_SUFFIXES)
        frames = [(f"{c.name} @{t} ms", f) for c in sorted(d.iterdir()) if c.suffix.lower() in CLIP_SUFFIXES
                  for t, f in media.read_clip(c, step=5)]
        if photos:
            people[d.name] = Person(photos, frames)
    return people


def six_people() -> dict[str, Person]:
    people = _population_dir(media.faces_dir())
    v = media.videos_dir()
    people["obama"].frames = [(f"obama clip @{t} ms", f) for t, f in media.read_clip(v / "obama_weekly_address_blinks.mp4", step=5)]
    people["grid_speaker"] = Person([], [(f"GRID clip @{t} ms", f) for t, f in media.read_clip(v / "grid_id2_blinks.mpg", step=5)])
    return people


def populations(extra: list[str]) -> dict[str, dict[str, Person]]:
    out = {"six people (../shared/faces)": six_people()}
    ea = media.shared_dir() / "faces_east_asian"
    if ea.is_dir():
        out["East Asian (../shared/faces_east_asian)"] = _population_dir(ea)
    for spec in extra:
        name, _, folder = spec.partition("=")
        out[name] = _population_dir(Path(folder))
    return out


def _encode(matcher, image) -> np.ndarray | None:
    try:
        return matcher.encode(image)
    except FaceError:
        return None


def measure(out, matcher, name: str, people: dict[str, Person]) -> dict:
    """Print one matcher's figures on one population; return the headline numbers."""
    tol = matcher.default_tolerance
    share = LivenessSession.IDENTITY_SHARE
    photos = {who: [(p.name, e) for p in person.photos if (e := _encode(matcher, media.load_photo(p))) is not None]
              for who, person in people.items()}
    frames = {who: [(lbl, e) for lbl, f in person.frames if (e := _encode(matcher, f)) is not None]
              for who, person in people.items()}
    images = {who: photos[who] + frames[who] for who in people}
    same, diff = [], []
    for a, b in itertools.combinations([(who, lbl, e) for who, items in images.items() for lbl, e in items], 2):
        if a[0] == b[0] and a[1] == b[1]:
            continue
        d = matcher.distance(a[2], b[2])
        (same if a[0] == b[0] else diff).append((d, f"{a[0]}/{a[1]}", f"{b[0]}/{b[1]}"))
    n_img = sum(len(v) for v in images.values())
    out(f"### {matcher.name} on {name}")
    out()
    out(f"{len(people)} people, {n_img} encoded images ({sum(len(v) for v in photos.values())} photos, "
        f"{sum(len(v) for v in frames.values())} webcam frames, every 5th of each clip); default tolerance {tol:.2f}.")
    out()
    fmr = sum(d <= tol for d, *_ in diff)
    fnmr = sum(d > tol for d, *_ in same)
    out(f"- image pairs: FMR {fmr}/{len(diff)} ({fmr / max(len(diff), 1):.3%}), FNMR {fnmr}/{len(same)} ({fnmr / max(len(same), 1):.2%})")
    if diff:
        lo = min(diff)
        out(f"- closest impostor {lo[0]:.3f} ({lo[1]} vs {lo[2]}): margin {lo[0] - tol:+.3f}")
    if same:
        hi = max(same)
        out(f"- farthest genuine {hi[0]:.3f} ({hi[1]} vs {hi[2]}): margin {tol - hi[0]:+.3f}")
    # Sessions: each person's frames (their clip's, else their photos) against each portrait.
    stand_in, stand_in_pairs, genuine_refused, genuine_sessions = 0, set(), 0, 0
    sessions = 0
    for owner, portraits in photos.items():
        for who, items in images.items():
            probe = frames[who] or photos[who]
            for plbl, portrait in portraits:
                shown = [e for lbl, e in probe if not (who == owner and lbl == plbl)]
                if not shown:
                    continue
                judged = within_share([matcher.distance(portrait, e) for e in shown], share)
                if who == owner:
                    genuine_sessions += 1
                    genuine_refused += judged > tol
                else:
                    sessions += 1
                    if judged <= tol:
                        stand_in += 1
                        stand_in_pairs.add(frozenset((owner, who)))
    pairs = len({frozenset((a, b)) for a in photos for b in images if a != b and photos[a] and images[b]})
    out(f"- stand-in sessions passed (another person's frames against a portrait, {share:.0%} of frames within "
        f"tolerance): {stand_in}/{sessions}; pairs of people with a pass: {len(stand_in_pairs)}/{pairs}")
    out(f"- genuine sessions refused (own frames, or own other photos, against own portrait): {genuine_refused}/{genuine_sessions}")
    out()
    out("| tolerance | FMR (image pairs) | FNMR (image pairs) |")
    out("|---|---|---|")
    for t in sorted({*CURVES.get(matcher.name, []), tol}):
        f = sum(d <= t for d, *_ in diff)
        n = sum(d > t for d, *_ in same)
        mark = " (default)" if t == tol else ""
        out(f"| {t:.2f}{mark} | {f / max(len(diff), 1):.3%} ({f}/{len(diff)}) | {n / max(len(same), 1):.2%} ({n}/{len(same)}) |")
    out()
    return {"fmr": fmr, "pairs": len(diff), "stand_in": stand_in, "sessions": sessions}


def bench_matchers(out, extra: list[str] = ()) -> None:
    out("## Matchers per population")
    out()
    pops = populations(list(extra))
    for matcher in (DlibProvider(), SFaceProvider()):
        for name, people in pops.items():
            measure(out, matcher, name, people)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", action="append", default=[], metavar="NAME=DIR",
                    help="another population: DIR has one folder of photos (and clips) per person")
    args = ap.parse_args()
    bench_matchers(print, args.population)


if __name__ == "__main__":
    main()
