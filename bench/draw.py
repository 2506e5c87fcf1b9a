"""P5: the verifiable draw (services/inspection/draw.py, the algorithm new plans use) over a city-sized
pool, against computing and sorting the institutions' HMAC scores alone (the irreducible cost of a
keyed random ranking). Both sides report the best of ``repeats`` runs, wall-clock and CPU."""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from typing import Any

from services.inspection import draw as drawing
from services.inspection.settings import InspectionSettings

# Guangzhou's eleven districts (shared/reference_data/gz_districts.csv).
DISTRICTS = [
    "440103", "440104", "440105", "440106", "440111", "440112", "440113", "440114", "440115", "440117", "440118",
]  # fmt: skip
GRADES = ["A"] * 20 + ["B"] * 40 + ["C"] * 20 + ["D"] * 5 + ["ungraded"] * 15


def pool(institutions: int, inspectors: int, *, seed: int = 11) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    inspector_ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(inspectors)]
    people = [{"id": i, "districts": rng.sample(DISTRICTS, 1 if rng.random() < 0.7 else 2)} for i in inspector_ids]
    places = [
        {
            "id": str(uuid.UUID(int=rng.getrandbits(128))),
            "district": rng.choice(DISTRICTS),
            "grade": rng.choice(GRADES),
            # about one in twenty declares a conflict; one in three has a previous team to rotate away from
            "conflicts": [rng.choice(inspector_ids)] if rng.random() < 0.05 else [],
            "previous_team": rng.sample(inspector_ids, 2) if rng.random() < 0.33 else [],
        }
        for _ in range(institutions)
    ]
    return places, people


def platform_draw(
    seed: str, places: list[dict[str, Any]], people: list[dict[str, Any]], algorithm: str = drawing.ALGORITHM
) -> dict[str, Any]:
    """What ``plans.service.run`` does around the pure draw: normalise the frozen lists, then draw
    (by default with the algorithm of new plans)."""
    ratios = {g: str(v) for g, v in InspectionSettings(environment="test").sampling_ratios.items()}
    return drawing.run_draw(
        seed,
        drawing.normalise_institutions(places),
        drawing.normalise_inspectors(people),
        {"ratios": ratios, "team_size": 2},
        algorithm,
    )


def bare_scores(seed: str, places: list[dict[str, Any]]) -> list[tuple[str, str]]:
    key = bytes.fromhex(seed)
    return sorted((hmac.new(key, ("select:" + p["id"]).encode(), hashlib.sha256).hexdigest(), p["id"]) for p in places)


def _timed(work: Any, repeats: int) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU seconds of ``repeats`` runs (the machine is shared and noisy)."""
    wall: list[float] = []
    cpu: list[float] = []
    value = None
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        value = work()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return min(wall), min(cpu), value


def run(institutions: int = 100_000, inspectors: int = 1_000, repeats: int = 3) -> dict[str, Any]:
    places, people = pool(institutions, inspectors)
    seed = drawing.draw_seed("ab" * 32, "witness")
    bare_seconds, bare_cpu, _ = _timed(lambda: bare_scores(seed, places), repeats)
    platform_seconds, platform_cpu, result = _timed(lambda: platform_draw(seed, places, people), repeats)
    return {
        "institutions": institutions,
        "inspectors": inspectors,
        "algorithm": result["algorithm"],
        "bare_seconds": bare_seconds,
        "platform_seconds": platform_seconds,
        "bare_cpu_seconds": bare_cpu,
        "platform_cpu_seconds": platform_cpu,
        "selected": len(result["selected"]),
        "teams": len(result["teams"]),
        "unassignable": len(result["unassignable"]),
    }
