"""The generated gRPC code must match protos/: regenerate into a temp dir and compare."""

from pathlib import Path

from services.gen.generate import ROOT, generate


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    generate(tmp_path)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "services" / "gen").rglob("*.py*")}
    committed = {
        p.relative_to(ROOT): p.read_bytes()
        for p in (ROOT / "services" / "gen").rglob("*.py*")
        if p.name != "generate.py" and "__pycache__" not in p.parts
    }
    stale = sorted(str(path) for path in fresh if committed.get(path) != fresh[path])
    assert not stale, f"generated code is stale, run `make proto`: {stale}"
    assert set(committed) == set(fresh), "services/gen has files protos/ no longer generates"


def test_full_rpc_surface() -> None:
    from services.gen.fleet.context.v1 import context_pb2
    from services.gen.fleet.orchestrator.v1 import orchestrator_pb2

    context = {m.name for m in context_pb2.DESCRIPTOR.services_by_name["ContextService"].methods}
    orchestrator = {m.name for m in orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].methods}
    assert context == {
        "GetContext", "UpdateContext", "RehydrateSession", "ValidateScope", "CreateStory",
        "CreateTask", "AddProjectDecision", "TransitionPhase", "GetGraphRelationships",
    }
    assert orchestrator == {
        "Deliberate", "StreamDeliberation", "Orchestrate", "DeliberateAsync", "GetDeliberationResult",
        "CancelDeliberation", "CreateCouncil", "ListCouncils", "DeleteCouncil", "RegisterAgent",
        "UnregisterAgent", "GetStatus",
    }
