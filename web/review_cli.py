"""`pgxlit review`: curators correct a claim itself from the command line (as the review page and
POST /api/review/claim/edit do), take an edit off again, and read the claim edits' audit trail."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer

from pgxlit.cli_common import JsonOpt, fail, guard, open_store, out

review_app = typer.Typer(help="Curators: correct compiled claims and read their audit trail.", no_args_is_help=True)

Drug = Annotated[str, typer.Argument(help="The drug, any name the lexicon knows (e.g. simvastatin or Zocor).")]
Gene = Annotated[str, typer.Argument(help="The gene symbol, e.g. SLCO1B1.")]
Group = Annotated[str, typer.Argument(help="The claim's group key as `pgxlit drug DRUG --json` lists it, e.g. "
                                           "'gene', 'phenotype:Poor Metabolizer', 'hla:HLA-B*57:01'.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (required: it goes into the audit trail).")]
ClaimAction = Annotated[str | None, typer.Option(
    "--claim-action", help="The action the evidence compiles for the claim, when its drug–gene–group has several.")]
Curator = Annotated[str | None, typer.Option("--curator", help="Your name for the audit trail (default: your login).")]


def _names(drug: str, gene: str) -> tuple[str, str]:
    from pgxlit.web.api import canonical_drug, canonical_gene

    return canonical_drug(drug) or drug, canonical_gene(gene) or gene


def _run(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """A claim write against the configured store; a bad value or unknown claim ends with its message."""
    from pgxlit.config import get_settings
    from pgxlit.web.review import ReviewError

    settings = get_settings()
    store = open_store(settings)
    try:
        return fn(store, settings, *args, **kwargs)
    except ReviewError as exc:
        fail(str(exc))
    except KeyError as exc:
        fail(str(exc.args[0]))
    finally:
        store.close()
    raise AssertionError("unreachable")  # fail() exits


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result, ensure_ascii=False, default=str))
        return
    e = result["edit"]
    verb = "reverted" if e["reverted"] else "edited"
    out.print(f"{e['drug']} – {e['gene'] or 'no gene'} – {e['group']}: {verb} by {e['actor']} (edit {e['id']})",
              highlight=False, markup=False)
    for c in result.get("claims", ()):
        out.print(f"  now: {c['action']} · {c['severity']} · testing {c['testing_level']} · {c['phenotype']}"
                  + (f" · dose {c['dose']}" if c.get("dose") else ""), highlight=False, markup=False)


@review_app.command("claim-edit")
def claim_edit(
    drug: Drug, gene: Gene, group: Group, reason: Reason = "",
    action: Annotated[str | None, typer.Option(help="avoid, alternative, dose_change, test, monitor or informative.")] = None,
    severity: Annotated[str | None, typer.Option(help="critical, warning or info.")] = None,
    testing_level: Annotated[str | None, typer.Option(help="required, recommended, actionable or informative.")] = None,
    new_group: Annotated[str | None, typer.Option("--group", help="Who the claim is about, as a group key.")] = None,
    phenotype: Annotated[str | None, typer.Option(help="The patient group as readers see it.")] = None,
    dose: Annotated[str | None, typer.Option(help="The dose or fraction, e.g. '50%'.")] = None,
    note: Annotated[str | None, typer.Option(help="A curator's note shown with the claim.")] = None,
    claim_action: ClaimAction = None, curator: Curator = None, as_json: JsonOpt = False,
) -> None:
    """Correct one claim (e.g. its action informative -> avoid): ask, check and drug pages read the correction,
    marked as edited by a curator; `pgxlit review claim-revert` takes it off again."""
    from pgxlit.web.review import apply_claim_edit

    changes = {k: v for k, v in (("action", action), ("severity", severity), ("testing_level", testing_level),
                                 ("group", new_group), ("phenotype", phenotype), ("dose", dose)) if v is not None}
    with guard():
        name, symbol = _names(drug, gene)
        result = _run(apply_claim_edit, name, symbol, group, changes, note, reason, curator or getpass.getuser(),
                      claim_action)
        _print(result, as_json)


@review_app.command("claim-revert")
def claim_revert(drug: Drug, gene: Gene, group: Group, reason: Reason = "", claim_action: ClaimAction = None,
                 curator: Curator = None, as_json: JsonOpt = False) -> None:
    """Take a curator's edit off a claim: it reads as its evidence compiles again (the audit trail keeps both)."""
    from pgxlit.web.review import revert_claim

    with guard():
        name, symbol = _names(drug, gene)
        _print(_run(revert_claim, name, symbol, group, reason, curator or getpass.getuser(), claim_action), as_json)


@review_app.command("claim-edits")
def claim_edits(
    drug: Annotated[str | None, typer.Option(help="Only this drug's claims.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=5000, help="At most this many rows.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The claim edits' audit trail, newest first: who, when, which claim, old -> new, and why."""
    from pgxlit.config import get_settings

    with guard():
        settings = get_settings()
        store = open_store(settings)
        try:
            from pgxlit.web.api import canonical_drug

            rows = store.claim_edit_log(canonical_drug(drug), limit=limit)
        finally:
            store.close()
        if as_json:
            out.print_json(json.dumps([e.to_json() for e in rows], ensure_ascii=False))
            return
        if not rows:
            out.print("no claim edits yet")
        for e in rows:
            when = e.at.strftime("%Y-%m-%d %H:%M") if e.at else ""
            what = "revert" if e.reverted else "; ".join(f"{k}: {e.before.get(k)} -> {v}" for k, v in e.changes.items())
            note = f" · note: {e.note}" if e.note else ""
            out.print(f"{when} {e.actor}: {e.drug} – {e.gene or 'no gene'} – {e.group}: {what}{note} · why: {e.reason}",
                      highlight=False, markup=False)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `pgxlit review` (claim-edit, claim-revert, claim-edits)."""
    app.add_typer(review_app, name="review")
