"""The HTML report and the Markdown summary, parsed (not string-compared), on real computed statistics."""

from __future__ import annotations

import re

import pytest
from _html_tree import parse
from _report_data import add_reference_set, build_store, require_analysis

from mastlens.report import render_html, render_markdown
from mastlens.report.drilldown import _shell_quote
from mastlens.taxonomy import load_taxonomy
from mastlens.trace import ModeStatus

compute_stats, compute_agreement = require_analysis()

SECTIONS = ["overview", "signature", "modes-per-trace", "fatal", "cascades", "categories", "interventions",
            "traces", "glossary"]


@pytest.fixture
def filled(store):
    ids = build_store(store, per_model=12, not_assessed=("FM-2.4",))
    add_reference_set(store, ids)
    return store, ids


@pytest.fixture
def rendered(filled):
    store, ids = filled
    stats = compute_stats(store, "judge-a")
    agreement = compute_agreement(store, "human", "judge-a")
    html = render_html(store, "judge-a", stats, agreement=agreement)
    root, errors = parse(html)
    return store, ids, stats.model_dump(mode="json"), agreement.model_dump(mode="json"), html, root, errors


def test_document_is_well_formed_and_self_contained(rendered):
    *_, html, root, errors = rendered
    assert errors == []
    # Nothing is fetched: no external scripts, stylesheets, images or fonts.
    for el in root.iter():
        for attr in ("src", "href"):
            value = el.attrs.get(attr) or ""
            assert not re.match(r"^(https?:)?//", value), f"<{el.tag} {attr}={value}> reaches the network"
    assert not root.find_all("link")
    ids = [el.attrs["id"] for el in root.iter() if el.attrs.get("id")]
    assert len(ids) == len(set(ids)), "duplicate element ids"
    assert len(html.encode()) < 3_000_000


def test_every_section_exists_with_real_data(rendered):
    store, ids, stats, agreement, html, root, _ = rendered
    for section in SECTIONS + ["agreement"]:
        assert root.by_id(section) is not None, f"missing section #{section}"
    # Overview: one row per group, with the computed counts.
    overview = root.by_id("overview").find_all("table")[0]
    rows = overview.find_all("tbody")[0].find_all("tr")
    assert [r.find_all("td")[0].text() for r in rows] == [g["name"] for g in stats["groups"]]
    for row, group in zip(rows, stats["groups"]):
        cells = [c.text() for c in row.find_all("td")]
        assert cells[1] == str(group["n"]) and cells[2] == str(group["n_failed"])
    assert sum(g["n"] for g in stats["groups"]) == len(ids)
    # Charts are inline SVG.
    for section in ("signature", "modes-per-trace", "categories", "agreement"):
        assert root.by_id(section).find_all("svg"), f"no chart in #{section}"
    assert len(root.by_id("fatal").find_all("svg")) == len(stats["groups"])
    # Fatal vs benign: one table per group, each mode's verdict as computed.
    tables = root.by_id("fatal").find_all("table")
    assert len(tables) == len(stats["groups"])
    for table, group in zip(tables, stats["groups"]):
        verdicts = [r.find_all("td")[-1].text() for r in table.find_all("tbody")[0].find_all("tr")]
        assert verdicts == [m["verdict"] or "–" for m in group["modes"]]
    # Agreement: one row per mode of the agreement result.
    rows = root.by_id("agreement").find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(agreement["modes"])
    # Glossary: the 14 modes, from the taxonomy data.
    taxonomy = load_taxonomy()
    for mode in taxonomy.modes:
        dt = root.by_id(f"mode-{mode.id}")
        assert dt is not None and mode.name in dt.text()


def test_reliability_card_and_not_assessed(rendered):
    store, ids, *_ , root, _ = rendered
    card = root.by_id("reliability").text()
    assert "openai:test-model" in card and "abc123" in card and load_taxonomy().version in card
    assert f"{len(ids)} of {len(ids)} stored traces" in card
    present = verified = 0
    for ann in store.get_annotations("judge-a"):
        for mv in ann.verdict.modes.values():
            if mv.status is ModeStatus.PRESENT:
                present += 1
                verified += mv.has_verified_evidence
    assert f"({verified} of {present})" in card
    missing = root.by_id("not-assessed")
    assert [a.text() for a in missing.find_all("a")] == ["FM-2.4"]


def test_drilldown_flags_modes_at_evidence_steps(rendered):
    store, ids, stats, _, html, root, _ = rendered
    traces = root.by_id("traces").find_all("details", class_="trace")
    assert len(traces) == len(ids)
    annotations = {a.trace_id: a for a in store.get_annotations("judge-a")}
    by_text = {t.find_all("span", class_="trace-id")[0].text(): t for t in traces}
    assert set(by_text) == set(ids)
    marks = 0
    for trace_id, el in by_text.items():
        verdict = annotations[trace_id].verdict
        assert el.attrs["data-modes"].split() == verdict.present()
        for mode_id in verdict.present():
            for ev in verdict.modes[mode_id].evidence:
                step = el.by_id(f"{el.attrs['id']}-s{ev.step}")
                assert step is not None and "flagged" in step.attrs["class"]
                assert mode_id in [a.text() for a in step.find_all("a")]
        marks += len(el.find_all("mark"))
    assert marks > 0
    # Long tool outputs are cut head + tail, with the command that shows them whole.
    cut = [el for el in traces if "characters omitted" in el.text()]
    assert cut
    assert "--full" in cut[0].find_all("code")[0].text()


def test_links_resolve_and_interventions_link_to_traces(rendered):
    _, _, stats, _, _, root, _ = rendered
    targets = {el.attrs["id"] for el in root.iter() if el.attrs.get("id")}
    hrefs = [el.attrs["href"] for el in root.iter("a") if (el.attrs.get("href") or "").startswith("#")]
    assert hrefs
    assert [h for h in hrefs if h[1:] not in targets] == []
    recs = stats["recommendations"]
    assert recs, "the seeded data has fatal modes, so interventions are recommended"
    items = root.by_id("interventions").find_all("li")
    assert len(items) == len(recs)
    links = [a.attrs["href"] for li in items for a in li.find_all("a", class_="trace-id")]
    assert links and all(root.by_id(h[1:]).tag == "details" for h in links)


def test_comparison_section(filled):
    store, _ = filled
    stats = compute_stats(store, "judge-a", compare=["model-surgical", "model-cascading"])
    root, errors = parse(render_html(store, "judge-a", stats))
    assert errors == []
    section = root.by_id("comparison")
    assert section is not None
    rows = section.find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(stats.model_dump()["comparison"]) > 0


def test_markdown_summary_has_per_group_table(filled):
    store, _ = filled
    stats = compute_stats(store, "judge-a")
    md = render_markdown(store, "judge-a", stats)
    lines = md.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| model | traces | failed"))
    assert lines[header + 1].startswith("|---")
    rows = lines[header + 2: header + 2 + len(stats.groups)]
    dumped = stats.model_dump()["groups"]
    for row, group in zip(rows, dumped):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[0] == group["name"] and cells[1] == str(group["n"]) and cells[2] == str(group["n_failed"])
    assert "### Top fatal modes" in md and "### Top interventions" in md


def test_judge_errors_and_empty_traces_are_shown(store):
    from mastlens.trace import Annotation, AnnotationStatus, Outcome, Source, Trace

    build_store(store, per_model=3)
    store.add_trace(Trace(id="empty-run", source=Source(format="native"), model="model-mixed",
                          outcome=Outcome(success=False, score=0.0, success_from="source")))
    store.save_annotation(Annotation(trace_id="empty-run", set="judge-a", status=AnnotationStatus.ERROR,
                                     error="reply was not valid JSON <after 2 attempts>", raw_reply="{oops"))
    stats = compute_stats(store, "judge-a")
    root, errors = parse(render_html(store, "judge-a", stats))
    assert errors == []
    card = root.by_id("not-assessed").text()
    assert "1 traces ended as judge errors" in card and "reply was not valid JSON <after 2 attempts>" in card
    trace = next(t for t in root.find_all("details", class_="trace") if "empty-run" in t.text())
    assert "judge error" in trace.text() and trace.attrs["data-modes"] == ""
    card = root.by_id("reliability")
    facts = dict(zip([d.text() for d in card.find_all("dt")], [d.text() for d in card.find_all("dd")]))
    assert facts["errors"] == "1" and facts["annotated"] == f"{3 * 3} of {3 * 3 + 1} stored traces"


def test_interventions_say_what_to_change(rendered):
    """Each recommended intervention names the engineering change and explains it (from the playbook),
    not only its id, in the HTML and in the Markdown summary."""
    store, _, stats, _, _, root, _ = rendered
    items = root.by_id("interventions").find_all("li")
    recs = [r for g in stats["groups"] for r in stats["recommendations"] if r["group"] == g["name"]]
    assert len(items) == len(recs) > 0
    for li, rec in zip(items, recs):
        text = " ".join(li.text().split())
        assert rec["title"] and rec["title"] in text
        assert rec["fix"] and " ".join(rec["fix"].split()) in text
    md = render_markdown(store, "judge-a", compute_stats(store, "judge-a"))
    top = md.split("### Top interventions", 1)[1]
    best = sorted(stats["recommendations"], key=lambda r: -r["score"])[0]
    assert best["title"] in top


def test_modes_per_trace_chart_shows_failed_traces(rendered):
    """The surgical-vs-cascading chart is the distribution over each group's failed traces."""
    _, _, stats, _, _, root, _ = rendered
    svg_text = " ".join(t.text() for t in root.by_id("modes-per-trace").find_all("text"))
    assert "failed trace" in svg_text
    for g in stats["groups"]:
        assert sum(g["modes_histogram_failed"].values()) == g["n_failed"]
        assert f"{g['name']} ({g['n_failed']} failed)" in svg_text


def test_heatmap_scale_gets_darker_with_prevalence():
    """Frequent modes draw the eye and survive a light print: the heatmap scale's lightness falls steadily from
    0 to 1, and its lightest end is still told apart from the grey of n/a cells."""
    import matplotlib

    from mastlens.report import charts

    cmap = matplotlib.colormaps[charts.HEATMAP_CMAP]

    def luminance(value):
        r, g, b, _ = cmap(value)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    steps = [luminance(v / 10) for v in range(11)]
    assert all(a > b for a, b in zip(steps, steps[1:]))
    assert steps[0] > 0.8 and steps[-1] < 0.25
    assert cmap(0.0)[:3] != matplotlib.colors.to_rgb("#eeeeee")


def test_success_rate_says_how_many_outcomes_it_rests_on(store):
    """Traces without a known outcome are left out of the success rate; the overview and the Markdown say so
    instead of implying the rate covers every trace."""
    from mastlens.trace import Annotation, AnnotationStatus, Outcome, Source, Trace, Verdict

    build_store(store, per_model=2)
    for i in range(4):
        store.add_trace(Trace(id=f"no-outcome-{i}", source=Source(format="native"), model="model-mixed",
                              outcome=Outcome()))
        store.save_annotation(Annotation(trace_id=f"no-outcome-{i}", set="judge-a", status=AnnotationStatus.OK,
                                         verdict=Verdict(modes={})))
    stats = compute_stats(store, "judge-a")
    mixed = next(g for g in stats.groups if g.name == "model-mixed")
    assert (mixed.n, mixed.n_unknown_outcome) == (6, 4)
    root, errors = parse(render_html(store, "judge-a", stats))
    assert errors == []
    for cell in root.by_id("overview").iter("td"):  # one failed trace: a mean without an sd
        assert "± –" not in cell.text()
    rows = root.by_id("overview").find_all("tbody")[0].find_all("tr")
    cells = {r.find_all("td")[0].text(): " ".join(r.find_all("td")[3].text().split()) for r in rows}
    assert cells["model-mixed"] == "50% of 2 known"
    assert cells["model-surgical"] == "50%"
    md_row = next(line for line in render_markdown(store, "judge-a", stats).splitlines()
                  if line.startswith("| model-mixed |"))
    assert "50% of 2 known" in md_row


def test_missing_estimates_show_one_dash(filled):
    """A statistic that cannot be computed reads as one dash, not a dash for the value and another for its CI."""
    store, _ = filled
    stats = compute_stats(store, "judge-a")
    root, _ = parse(render_html(store, "judge-a", stats))
    dumped = stats.model_dump()
    missing = [(g["name"], m["id"]) for g in dumped["groups"] for m in g["modes"] if m["odds_ratio"] is None]
    assert missing, "FM-2.4 is never assessed, so it has no odds ratio"
    tables = {g["name"]: t for g, t in zip(dumped["groups"], root.by_id("fatal").find_all("table"))}
    for name, mode_id in missing:
        row = next(r for r in tables[name].find_all("tbody")[0].find_all("tr")
                   if r.find_all("td")[0].text().strip() == mode_id)
        assert row.find_all("td")[5].text().strip() == "–"
    for cell in root.iter("td"):
        assert "– –" not in " ".join(cell.text().split()) and "± –" not in cell.text()


def test_cascades_name_the_modes_that_open_failed_traces(rendered):
    """The modes that most often come first in failed traces (the seeds of cascades) are listed per group."""
    _, _, stats, _, _, root, _ = rendered
    onsets = stats["first_onsets"]
    assert onsets
    table = root.by_id("first-onsets")
    assert table is not None
    rows = [[" ".join(td.text().split()) for td in tr.find_all("td")] for tr in table.find_all("tbody")[0].find_all("tr")]
    assert [(r[0], r[1]) for r in rows] == [(o["group"], o["mode"]) for o in onsets]
    assert [r[2] for r in rows] == [str(o["n_first"]) for o in onsets]


def test_precedence_heatmap_fills_both_orders(filled):
    """Each localized pair gives both cells of the first-onset heatmap: how often the row mode comes first and
    how often the column mode does (ties count for neither), so a tie is not read as one-sided."""
    from mastlens.report.figures import pair_heatmaps

    store, _ = filled
    stats = compute_stats(store, "judge-a").model_dump(mode="json")
    rows = [r for r in stats["precedence"] if r["group"] == stats["groups"][0]["name"]]
    assert rows
    for r in rows:
        assert r["share_first"] + r["share_second"] <= 1 + 1e-9 and r["share_second"] <= r["share_first"]
    svg = pair_heatmaps(stats, load_taxonomy().ids)[stats["groups"][0]["name"]]["precedence"]
    modes = {m for r in rows for m in (r["first"], r["second"])}
    cells = re.findall(r">(\d+%|n/a)<", svg)
    assert len(cells) == len(modes) ** 2
    assert cells.count("n/a") == len(modes) ** 2 - 2 * len(rows)


def test_full_text_command_names_the_store_it_needs(store, monkeypatch):
    """The drill-down's `mastlens show ... --full` works as printed: it names the store unless that is the
    default one."""
    build_store(store, per_model=2)
    stats = compute_stats(store, "judge-a")

    def commands():
        root, _ = parse(render_html(store, "judge-a", stats))
        return [t.find_all("code")[0].text() for t in root.by_id("traces").find_all("details", class_="trace")]

    monkeypatch.delenv("MASTLENS_DB", raising=False)
    assert all(c.startswith("mastlens show ") and c.endswith(f"--full --db {_shell_quote(str(store.path))}") for c in commands())
    monkeypatch.setenv("MASTLENS_DB", str(store.path))
    assert all(c.endswith("--full") for c in commands())
