"""The planner page (``/``) in headless Chromium against a real ``kolgraph serve``.

Each figure the page shows is checked against the library on the same store
(``g.reach``, ``g.plan``, ``g.fraud``), so a page that shows a wrong number, or
none, fails. Run alone with ``pytest -m browser``.
"""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import quote

import pyarrow as pa
from playwright.sync_api import expect

FMT_INT = "{:,.0f}"


def sign_in(page, served, key: str = "acme", hash_: str = "") -> None:
    page.goto(served.url + "/" + hash_)
    page.get_by_label("API key").fill(served.keys[key])
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#app")).to_be_visible()


def figure(page, key: str) -> str:
    return page.locator(f"[data-figure={key}]").inner_text()


def add_first(page, n: int) -> list[str]:
    """Add the first ``n`` search results; their ids in booking order."""
    rows = page.locator("#results tbody tr")
    expect(rows.first).to_be_visible()
    ids = []
    for i in range(n):
        row = rows.nth(i)
        ids.append(row.get_attribute("data-id"))
        row.get_by_role("button", name=re.compile("^Add")).click()
    expect(page.locator("#selected tbody tr")).to_have_count(n)
    return ids


def wait_reach(page, g, ids, **options):
    """Wait until the page shows the unique reach of ``ids``; returns the library report."""
    want = g.reach([int(i) for i in ids], **options)
    expect(page.locator("[data-figure=unique_reach]")).to_have_text(
        FMT_INT.format(want.unique_reach))
    return want


def hash_params(page) -> dict:
    from urllib.parse import parse_qs, urlsplit

    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).fragment).items()}


def test_wrong_key_is_refused_and_not_kept(page, served):
    page.goto(served.url + "/")
    page.get_by_label("API key").fill("kg_00000000_not-a-real-secret")
    page.get_by_label("API key").press("Enter")  # keyboard: Enter submits the form
    expect(page.locator("#signin-error")).to_contain_text("refused")
    expect(page.locator("#app")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0
    # the only console error is the browser's own note of the 401 answer
    assert all("401" in e for e in page.errors), page.errors


def test_sign_in_keeps_the_key_in_session_storage_only(page, served):
    sign_in(page, served)
    key = served.keys["acme"]
    assert page.evaluate("sessionStorage.getItem('kolgraph.key')") == key
    assert key not in page.url and page.evaluate("document.cookie") == ""
    assert page.locator("#store option").all_inner_texts() == ["alpha"]  # not globex's beta
    page.reload()  # still signed in within the tab
    expect(page.locator("#app")).to_be_visible()
    assert page.errors == []


def test_search_add_remove_and_reach_equals_the_library(page, served, shots):
    g = served.graph("alpha")
    sign_in(page, served)
    # search by name part: every row shown matches, and the count is the library's
    name = g.creators.column("name")[0].as_py()
    part = name.split()[0][:4]
    page.get_by_label("Id or name").fill(part)
    page.get_by_role("button", name="Search").click()
    names = [n.lower() for n in g.creators.column("name").to_pylist()]
    ids_text = [str(i) for i in g.creators.column("id").to_pylist()]
    n_match = sum(part.lower() in n or i.startswith(part) for n, i in zip(names, ids_text, strict=True))
    expect(page.locator("#results-caption")).to_have_text(
        f"Creators matching the filters: {FMT_INT.format(n_match)}")
    page.get_by_label("Id or name").fill("")
    page.get_by_label("Category").select_option("fashion")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results tbody tr td:nth-child(5)").first).to_have_text("fashion")
    cats = set(page.locator("#results tbody tr td:nth-child(5)").all_inner_texts())
    assert cats == {"fashion"}
    ids = add_first(page, 4)
    wait_reach(page, g, ids)
    page.locator(f"#selected tr[data-id='{ids[1]}']").get_by_role("button", name="Remove").click()
    expect(page.locator("#selected tbody tr")).to_have_count(3)
    kept = [ids[0], ids[2], ids[3]]
    want = wait_reach(page, g, kept)
    d = want.to_dict()
    assert figure(page, "gross_reach") == FMT_INT.format(d["gross_reach"])
    assert figure(page, "r2") == FMT_INT.format(d["frequency"]["at_least"][2])
    assert figure(page, "sainsbury_reach") == FMT_INT.format(d["sainsbury_reach"])
    # booking order is kept, and the per-creator figures are the library's
    rows = page.locator("#selected tbody tr")
    assert [rows.nth(i).get_attribute("data-id") for i in range(3)] == kept
    for i, c in enumerate(d["creators"]):
        cells = rows.nth(i).locator("td").all_inner_texts()
        assert cells[3:6] == [FMT_INT.format(c["audience"]), FMT_INT.format(c["exclusive"]),
                              FMT_INT.format(c["incremental"])]
    # per-creator view rate and posts drive the expected reach
    rows.nth(0).get_by_label(re.compile("^view rate")).fill("0.5")
    rows.nth(0).get_by_label(re.compile("^view rate")).press("Tab")
    rows.nth(1).get_by_label(re.compile("^posts")).fill("3")
    rows.nth(1).get_by_label(re.compile("^posts")).press("Tab")
    want = g.reach([int(i) for i in kept], view_rates={int(kept[0]): 0.5},
                   posts={int(kept[1]): 3})
    expect(page.locator("[data-figure=expected_reach]")).to_have_text(
        FMT_INT.format(want.to_dict()["expected_reach"]))
    assert hash_params(page)["ids"] == ",".join(kept)
    page.locator("#selection").screenshot(path=str(shots / "selection.png"))
    assert page.errors == []


def test_heatmap_measure_switch(page, served, shots):
    g = served.graph("alpha")
    sign_in(page, served)
    ids = add_first(page, 4)
    want = wait_reach(page, g, ids).to_dict()["overlap"]
    table = page.locator("#heatmap-table")
    page.get_by_text("Heatmap as a table").click()
    expect(table.locator("tr").nth(1).locator("td").nth(2)).to_have_text(
        FMT_INT.format(want["counts"][0][1]))
    page.get_by_label("Measure").select_option("jaccard")
    expect(page.locator("#heatmap")).to_have_attribute("data-measure", "jaccard")
    expect(table.locator("tr").nth(1).locator("td").nth(2)).to_have_text(
        f"{want['jaccard'][0][1]:.3f}")
    page.locator("#overlap").screenshot(path=str(shots / "overlap.png"))
    page.get_by_label("Measure").select_option("lift")
    expect(table.locator("tr").nth(2).locator("td").nth(1)).to_have_text(
        f"{want['lift'][1][0]:.2f}")
    assert hash_params(page)["m"] == "lift"
    # the chart is labelled with creator names (an SVG with a title per cell)
    name = g.creators.filter(pa.compute.equal(g.creators.column("id"), int(ids[0])))
    assert name.column("name")[0].as_py()[:10] in page.locator("#heatmap svg").inner_html()
    assert page.errors == []


def _plan_candidates(g, n: int = 200) -> pa.Table:
    """What the page sends: the ``n`` creators with most followers (ties: table order)."""
    c = g.creators
    idx = c.column("idx").to_numpy()
    followers = g.in_degree[idx]
    import numpy as np

    order = np.lexsort((idx, -followers))[:n]
    t = c.take(pa.array(order))
    t = t.filter(pa.compute.greater(t.column("price"), 0))
    return pa.table({"id": t.column("id"), "price": t.column("price")})


def test_budget_plan_is_within_budget_and_equals_the_library(page, served, shots):
    g = served.graph("alpha")
    sign_in(page, served)
    page.get_by_label("Budget", exact=True).fill("600")
    page.get_by_label("Objective").select_option("unique")
    page.get_by_label("Tier quotas").fill("nano:>=2")
    page.get_by_role("button", name="Plan", exact=True).click()
    expect(page.locator("#plan-status")).to_contain_text("Plan of")
    want = g.plan(_plan_candidates(g), budget=600, objective="unique", tier_quota=["nano:>=2"])
    d = want.to_dict()
    assert d["cost"] <= 600
    assert figure(page, "plan_value") == FMT_INT.format(d["value"])
    assert figure(page, "plan_cost") == FMT_INT.format(d["cost"])
    assert figure(page, "naive_value") == FMT_INT.format(d["naive"]["value"])
    cost = float(figure(page, "plan_cost").replace(",", ""))
    assert cost <= 600
    page.locator("#plan").screenshot(path=str(shots / "plan.png"))
    page.get_by_role("button", name="Use this plan").click()
    chosen = [str(c["id"]) for c in d["chosen"]]
    expect(page.locator("#selected tbody tr")).to_have_count(len(chosen))
    wait_reach(page, g, chosen)
    assert page.errors == []


def test_reload_from_a_shared_url(browser, served, page):
    g = served.graph("alpha")
    ids = [str(i) for i in g.creators.column("id").to_pylist()[10:13]]
    where = "country == 'NL'"
    hash_ = f"#store=alpha&ids={','.join(ids)}&m=jaccard&where={quote(where)}"
    sign_in(page, served, hash_=hash_)  # a fresh tab: no key yet, the link holds the view
    wait_reach(page, g, ids, where=where)
    expect(page.get_by_label("Measure")).to_have_value("jaccard")
    expect(page.locator("#where")).to_have_value(where)
    expect(page.locator("#filter-state")).to_contain_text("accounts pass the filter")
    url = page.url
    # another key holder of the same store opens the same link in another browser context
    ctx = browser.new_context()
    other = ctx.new_page()
    other.errors = []
    other.on("console", lambda m: other.errors.append(m.text) if m.type == "error" else None)
    other.goto(url)
    other.get_by_label("API key").fill(served.keys["acme"])
    other.get_by_role("button", name="Sign in").click()
    wait_reach(other, g, ids, where=where)
    assert other.errors == []
    ctx.close()


def test_audience_filter_refused_is_shown_next_to_the_filter(page, served):
    sign_in(page, served)
    add_first(page, 2)
    page.get_by_label(re.compile("^Audience filter")).fill("shoe_size == 3")
    page.get_by_role("button", name="Apply to every figure").click()
    expect(page.locator("#filter-error")).to_contain_text("shoe_size")
    expect(page.locator("#reach-error")).to_be_empty()
    assert all("422" in e for e in page.errors), page.errors


def test_export_csv(page, served):
    g = served.graph("alpha")
    sign_in(page, served)
    ids = add_first(page, 3)
    want = wait_reach(page, g, ids).to_dict()
    with page.expect_download() as dl:
        page.get_by_role("button", name="Export figures (CSV)").click()
    text = open(dl.value.path(), encoding="utf-8").read()
    rows = list(csv.reader(io.StringIO(text)))
    totals = {r[1]: r[2] for r in rows if r and r[0] == "totals"}
    assert int(totals["unique_reach"]) == want["unique_reach"]
    assert int(totals["reach_3plus"]) == want["frequency"]["at_least"][3]
    creators = [r for r in rows if r and r[0] == "creators" and r[1] != "id"]
    assert [r[1] for r in creators] == ids
    assert [int(r[4]) for r in creators] == [c["exclusive"] for c in want["creators"]]
    assert dl.value.suggested_filename == "kolgraph-reach.csv"
    with page.expect_download() as svg:
        page.get_by_role("button", name="Heatmap SVG").click()
    assert open(svg.value.path(), encoding="utf-8").read().startswith("<svg")
    with page.expect_download() as png:
        page.get_by_role("button", name="Curve PNG").click()
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert page.errors == []


def test_another_tenants_store_cannot_be_opened(page, served):
    # a link to globex's store, opened with acme's key: refused, nothing of beta shown
    sign_in(page, served, hash_="#store=beta&ids=1,2")
    expect(page.locator("#reach-error")).to_contain_text('cannot open store "beta"')
    assert page.locator("#store option").all_inner_texts() == ["alpha"]
    assert hash_params(page)["store"] == "alpha"
    status = page.evaluate("""async () => (await fetch('/v1/reach', {method: 'POST',
        headers: {'Authorization': 'Bearer ' + sessionStorage.getItem('kolgraph.key'),
                  'Content-Type': 'application/json'},
        body: JSON.stringify({store: 'beta', ids: [1, 2]})})).status""")
    assert status == 404


def test_suggestions_add_with_one_click(page, served):
    g = served.graph("alpha")
    sign_in(page, served)
    ids = add_first(page, 2)
    want = g.complementary([int(i) for i in ids], k=10)
    first = page.locator("#complementary tbody tr").first
    expect(first.locator("td").nth(3)).to_have_text(FMT_INT.format(want[0]["incremental"]))
    first.get_by_role("button", name=re.compile("^Add")).click()
    wait_reach(page, g, [*ids, str(want[0]["id"])])
    page.get_by_label("Creator id").fill(ids[0])
    page.get_by_role("button", name="Find similar").click()
    sim = g.similar(int(ids[0]), k=10)
    expect(page.locator("#similar tbody tr").first.locator("td").nth(3)).to_have_text(
        FMT_INT.format(sim[0]["common"]))
    assert page.errors == []


def test_audience_quality_from_the_review(page, served):
    g = served.graph("alpha")
    sign_in(page, served)
    page.get_by_role("button", name="Show audience quality").click()
    # a review slower than the request's time limit answers "computing" first and the page
    # retries; since the review got faster (issue 14, part 6) this store's review often
    # finishes within the limit, so the computing state is not required here
    expect(page.locator("#quality-status")).to_contain_text("fraud review", timeout=120_000)
    expect(page.locator("#quality-status")).not_to_contain_text("computing", timeout=120_000)
    row = page.locator("#results tbody tr").first
    cid = int(row.get_attribute("data-id"))
    want = g.fraud().creator(cid)
    assert row.locator("td").nth(7).inner_text() == f"{100 * want['audience_quality']:.1f}%"
    assert row.locator("td").nth(8).inner_text() == FMT_INT.format(want["real_reach"])
    # the only console errors are the browser's notes of the 503 answers
    assert all("503" in e for e in page.errors), page.errors


def test_docs_are_self_hosted(page, served):
    seen = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(served.url + "/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    page.goto(served.url + "/redoc")
    expect(page.locator("redoc h1, [role=main] h1").first).to_be_visible()
    outside = [u for u in seen if not u.startswith((served.url, "data:", f"blob:{served.url}"))]
    assert outside == []


def test_every_input_is_labelled(page, served):
    sign_in(page, served)
    add_first(page, 2)
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length)
                && !e.getAttribute('aria-label')).map(e => e.id || e.outerHTML)""")
    assert unlabelled == []


def test_engaged_and_loyal_reach_beside_followers(page, served, shots):
    """Store gamma has interactions: the selection shows its unique reach over followers,
    engaged people and loyal fans; the audience switch redraws the report over one of them;
    the budget plan offers the engaged objective. Every figure is the library's."""
    g = served.graph("gamma")
    ids = [str(i) for i in g.creators.column("id").to_pylist()[:3]]
    sign_in(page, served, key="gamma", hash_=f"#store=gamma&ids={','.join(ids)}")
    wait_reach(page, g, ids)
    ints = [int(i) for i in ids]
    engaged = g.reach(ints, audience="engaged")
    loyal = g.reach(ints, audience="loyal")
    assert 0 < loyal.unique_reach < engaged.unique_reach  # the case under test
    expect(page.locator("[data-figure=reach_engaged]")).to_have_text(
        FMT_INT.format(engaged.unique_reach))
    expect(page.locator("[data-figure=reach_loyal]")).to_have_text(
        FMT_INT.format(loyal.unique_reach))
    assert figure(page, "reach_followers") == FMT_INT.format(g.reach(ints).unique_reach)
    page.get_by_label("Audience", exact=True).select_option("engaged")
    wait_reach(page, g, ids, audience="engaged")  # the whole report, over engaged people
    rows = page.locator("#selected tbody tr")
    for i, c in enumerate(engaged.to_dict()["creators"]):
        expect(rows.nth(i).locator("td").nth(3)).to_have_text(FMT_INT.format(c["audience"]))
    expect(page.locator("#audience-state")).to_contain_text("engaged people")
    expect(page.locator("[data-figure=reach_followers]")).to_have_text(
        FMT_INT.format(g.reach(ints).unique_reach))
    assert hash_params(page)["aud"] == "engaged"
    page.locator("#selection").screenshot(path=str(shots / "engaged.png"))
    page.get_by_label("Budget", exact=True).fill("400")
    page.get_by_label("Objective").select_option("engaged")
    page.get_by_role("button", name="Plan", exact=True).click()
    expect(page.locator("#plan-status")).to_contain_text("Plan of")
    d = g.plan(_plan_candidates(g), budget=400, objective="engaged").to_dict()
    assert figure(page, "plan_value") == FMT_INT.format(d["value"])
    assert figure(page, "plan_follower_reach") == FMT_INT.format(d["measures"]["follower_reach"])
    assert page.errors == []


def test_no_interactions_no_engaged_audiences(page, served):
    sign_in(page, served)
    add_first(page, 1)
    expect(page.locator("[data-figure=unique_reach]")).not_to_have_text("")
    expect(page.locator("#audience-row")).to_be_hidden()
    expect(page.locator("#audiences")).to_be_hidden()
    assert page.locator("#objective option[value=engaged]").is_disabled()
    assert page.errors == []
