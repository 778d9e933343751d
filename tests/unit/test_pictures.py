"""`conclave show`'s pictures: the reviewer x candidate score matrix and the stage timeline."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.orchestrator.entrypoints import pictures


def drawn(table: Table) -> str:
    console = Console(width=120, record=True)
    console.print(table)
    return console.export_text()


def result() -> pb.DeliberateResponse:
    def review(by: str, *scores: float) -> pb.Review:
        return pb.Review(reviewer_id=by, scores={f"r{i}": s for i, s in enumerate(scores)})

    return pb.DeliberateResponse(
        ranked=[
            pb.Candidate(agent_id="dev-2",
                         reviews=[review("dev-1", 8, 9), review("dev-1", 10, 10), review("dev-3", 6)]),
            pb.Candidate(agent_id="dev-1", reviews=[review("dev-2", 4, 5)]),
        ],
        usage=pb.Usage(stages=[pb.StageUsage(stage="generate", calls=3, duration_ms=2000),
                               pb.StageUsage(stage="review", calls=6, duration_ms=4000),
                               pb.StageUsage(stage="aggregate", duration_ms=0)]),
    )


def test_the_matrix_pools_a_reviewers_rounds_and_leaves_unreviewed_pairs_blank() -> None:
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in drawn(pictures.score_matrix(result())).splitlines() if line.startswith("│")}
    # dev-1 scored dev-2 8.5 then 10.0: 9.2 pooled; nobody reviewed their own draft.
    assert rows == {"dev-1": ["9.2", ""], "dev-2": ["", "4.5"], "dev-3": ["6.0", ""]}


def test_the_timeline_scales_bars_to_the_slowest_stage() -> None:
    lines = {line.split("│")[1].strip(): line for line in drawn(pictures.stage_timeline(result())).splitlines()
             if line.startswith("│")}
    assert lines["review"].count("█") == pictures.BAR_WIDTH
    assert lines["generate"].count("█") == pictures.BAR_WIDTH // 2
    assert "█" not in lines["aggregate"] and "0.0s" in lines["aggregate"]
