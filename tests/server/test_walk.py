"""The sales example through every mutation of the contract, every TransitionErrorCode, and a subscription.

Runs on SQLite and on PostgreSQL, against uvicorn on a loopback port.
"""

from __future__ import annotations

from typing import Any

from tests.server.helpers import Client, Live, Socket

INSTANCE = """
fragment I on ProcessInstance {
  id name status version activeStage { name entity } activeRecord { id entity }
  traversedPath { name } activePath { name } canMoveNext missingSteps { name }
  process { name version } record { id } completedOn activeStageStartedOn createdAt
  history { stage { name } enteredAt exitedAt seconds by }
}
fragment E on TransitionError { code message missing: missingSteps { name } currentVersion }
"""
RECORD = """
fragment R on Record { id entity version values activeInstance { id activeStage { name } } }
fragment V on ValidationError { message fieldErrors { field message } currentVersion }
"""

MOVES = {
    "moveNext": "moveNext(instanceId: $id, expectedVersion: $v, targetRecordId: $t)",
    "movePrevious": "movePrevious(instanceId: $id, expectedVersion: $v)",
    "finishProcess": "finishProcess(instanceId: $id, expectedVersion: $v)",
    "abandonProcess": "abandonProcess(instanceId: $id, expectedVersion: $v)",
}


def move(c: Client, name: str, instance: str, version: int | None = None, target: str | None = None) -> dict[str, Any]:
    args = MOVES[name]
    decl = "$id: ID!, $v: Int" + (", $t: ID" if "$t" in args else "")
    q = f"mutation({decl}) {{ r: {args} {{ __typename ...I ...E }} }}" + INSTANCE
    variables: dict[str, Any] = {"id": instance, "v": version}
    if "$t" in args:
        variables["t"] = target
    return c.gql(q, **variables)["r"]


def instance_call(c: Client, call: str, **variables: Any) -> dict[str, Any]:
    decl = ", ".join(f"${k}: {'String!' if k in ('stage', 'process', 'step') else 'ID!'}" for k in variables)
    return c.gql(f"mutation({decl}) {{ r: {call} {{ __typename ...I ...E }} }}" + INSTANCE, **variables)["r"]


def create(c: Client, entity: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    args = "".join(f", {k}: {v}" for k, v in extra.items())
    q = f"mutation($e: String!, $vals: JSON!) {{ r: createRecord(entity: $e, values: $vals{args}) " \
        "{ __typename ...R ...V } }" + RECORD
    return c.gql(q, e=entity, vals=values)["r"]


def update(c: Client, record: str, values: dict[str, Any], version: int | None = None) -> dict[str, Any]:
    q = "mutation($id: ID!, $vals: JSON!, $v: Int) { r: updateRecord(id: $id, values: $vals, expectedVersion: $v) " \
        "{ __typename ...R ...V } }" + RECORD
    return c.gql(q, id=record, vals=values, v=version)["r"]


def refused(result: dict[str, Any], code: str) -> dict[str, Any]:
    assert result["__typename"] == "TransitionError", result
    assert result["code"] == code, result
    assert result["message"]
    return result


def moved(result: dict[str, Any], stage: str | None = None, status: str = "ACTIVE") -> dict[str, Any]:
    assert result["__typename"] == "ProcessInstance", result
    assert result["status"] == status, result
    if stage is not None:
        assert result["activeStage"]["name"] == stage, result
    return result


def test_sales_walk(live: Live) -> None:
    sales = live.client(live.token("ann", "salesperson"))
    agent = live.client(live.token("bob", "agent"))
    admin = live.client(live.token("root", "admin"))

    # createRecord: a validation failure is a union member; then a lead with the default process.
    bad = create(sales, "lead", {"topic": "Fleet", "budget_amount": -5})
    assert bad["__typename"] == "ValidationError" and bad["fieldErrors"][0]["field"] == "budget_amount"
    lead = create(sales, "lead", {"topic": "Fleet"})
    assert lead["__typename"] == "Record" and lead["values"]["purchase_timeframe"] == "unknown"
    inst = lead["activeInstance"]
    assert inst["activeStage"]["name"] == "qualify"

    ws = Socket(live.url, live.token("ann2", "salesperson"))
    assert ws.init()["type"] == "connection_ack"
    ws.subscribe("1", 'subscription($r: ID) { processEvents(recordId: $r) { kind stage { name } by at '
                      'instance { id version activeStage { name } } message role } }', r=lead["id"])

    iid = inst["id"]
    first = moved(instance_call(sales, "startProcess(recordId: $id, process: $process)", id=lead["id"],
                                process="lead_to_opportunity"), "qualify")
    assert first["id"] == iid  # one instance per process per record: start returns the existing one
    v = first["version"]

    # The gate: budget_amount is required in qualify.
    gate = refused(move(sales, "moveNext", iid, v), "STAGE_GATE")
    assert gate["missing"] == [{"name": "budget_amount"}]
    refused(move(sales, "movePrevious", iid, v), "BEGINNING")
    refused(instance_call(sales, "setActiveStage(instanceId: $id, stage: $stage)", id=iid, stage="close"),
            "UNREACHABLE")
    refused(instance_call(sales, "setActiveStage(instanceId: $id, stage: $stage)", id=iid, stage="nowhere"),
            "INVALID")
    refused(move(sales, "finishProcess", iid, v), "INVALID")
    conflict = refused(move(sales, "moveNext", iid, v + 5), "VERSION_CONFLICT")
    assert conflict["currentVersion"] == v
    refused(move(agent, "moveNext", iid, v), "FORBIDDEN")
    refused(move(sales, "moveNext", "no-such-instance"), "NOT_FOUND")
    refused(instance_call(sales, "startProcess(recordId: $id, process: $process)", id="no-such-record",
                          process="lead_to_opportunity"), "NOT_FOUND")
    refused(instance_call(sales, "startProcess(recordId: $id, process: $process)", id=lead["id"],
                          process="no_such_process"), "INVALID")

    # updateRecord: a stale expectedVersion changes nothing; then the budget.
    stale = update(sales, lead["id"], {"budget_amount": 5000}, version=lead["version"] + 3)
    assert stale["__typename"] == "ValidationError" and stale["currentVersion"] == lead["version"]
    lead = update(sales, lead["id"], {"budget_amount": 5000}, version=lead["version"])
    assert lead["__typename"] == "Record" and lead["values"]["budget_amount"] == 5000

    # Into develop: the opportunity is created from the lead (create block).
    dev = moved(move(sales, "moveNext", iid, v), "develop")
    assert dev["activeRecord"]["entity"] == "opportunity"
    assert [s["name"] for s in dev["traversedPath"]] == ["qualify", "develop"]
    opp = dev["activeRecord"]["id"]
    refused(move(sales, "moveNext", iid, dev["version"]), "STAGE_GATE")
    assert update(sales, opp, {"customer_need": "Vans"})["__typename"] == "Record"
    prop = moved(move(sales, "moveNext", iid, dev["version"]), "propose")

    # Action steps: the notification goes to subscribers; an unknown step is INVALID.
    notified = moved(instance_call(sales, "runActionStep(instanceId: $id, step: $step)", id=iid,
                                   step="notify_manager"), "propose")
    refused(instance_call(sales, "runActionStep(instanceId: $id, step: $step)", id=iid, step="nope"), "INVALID")

    # Back and forth: setActiveStage to a traversed stage, movePrevious, forward again.
    back = moved(instance_call(sales, "setActiveStage(instanceId: $id, stage: $stage)", id=iid, stage="develop"),
                 "develop")
    assert [s["name"] for s in back["traversedPath"]] == ["qualify", "develop"]
    prev = moved(move(sales, "movePrevious", iid, back["version"]), "qualify")
    again = moved(move(sales, "moveNext", iid, prev["version"]), "develop")
    assert again["activeRecord"]["id"] == opp  # the bound opportunity is kept
    moved(move(sales, "moveNext", iid), "propose")
    update(sales, opp, {"proposal_developed": True})
    close = moved(move(sales, "moveNext", iid), "close")
    refused(move(sales, "moveNext", iid, close["version"]), "END")
    refused(move(sales, "finishProcess", iid, close["version"]), "STAGE_GATE")
    update(sales, opp, {"decision_date": "2026-04-01"})
    done = moved(move(sales, "finishProcess", iid, close["version"]), "close", status="FINISHED")
    assert done["completedOn"] is not None
    refused(move(sales, "moveNext", iid), "NOT_ACTIVE")
    again = moved(instance_call(sales, "reactivateProcess(instanceId: $id)", id=iid), "close")
    gone = moved(move(sales, "abandonProcess", iid, again["version"]), "close", status="ABORTED")
    assert len(gone["history"]) >= 6 and all(h["by"] for h in gone["history"])

    # The subscriber saw every change, in order, with the stage entered.
    events = ws.events(11)
    kinds = [(e["data"]["processEvents"]["kind"], (e["data"]["processEvents"]["stage"] or {}).get("name"))
             for e in events]
    assert kinds == [("stage_changed", "develop"), ("stage_changed", "propose"), ("notification", "propose"),
                     ("stage_changed", "develop"), ("stage_changed", "qualify"), ("stage_changed", "develop"),
                     ("stage_changed", "propose"), ("stage_changed", "close"), ("finished", "close"),
                     ("reactivated", "close"), ("abandoned", "close")], kinds
    note = events[2]["data"]["processEvents"]
    assert note["message"] == "Proposal ready" and note["role"] == "sales_manager"
    assert all(e["data"]["processEvents"]["by"] == "ann" for e in events)
    ws.close()
    assert notified["id"] == prop["id"]

    # switchProcess: a second process on the lead becomes active; the first keeps its stage and history.
    sw = moved(instance_call(sales, "switchProcess(recordId: $id, process: $process)", id=lead["id"],
                             process="lead_nurture"), "capture")
    bar = sales.gql("query($r: ID!) { processBar(recordId: $r) { instance { id process { name } } "
                    "stages { stage { name } state steps { step { name } value done required } } } }", r=lead["id"])
    assert bar["processBar"]["instance"]["id"] == sw["id"]
    assert bar["processBar"]["stages"][0]["state"] == "ACTIVE"
    insts = sales.gql("query($r: ID!) { processInstances(recordId: $r) { id status activeStage { name } } }",
                      r=lead["id"])["processInstances"]
    assert {(i["id"], i["status"]) for i in insts} == {(sw["id"], "ACTIVE"), (iid, "ABORTED")}

    # CROSS_ENTITY_TARGET_REQUIRED: a `via` stage without `create` and no target record.
    company = create(admin, "company", {"name": "Acme"})
    cinst = company["activeInstance"]["id"]
    refused(move(admin, "moveNext", cinst), "CROSS_ENTITY_TARGET_REQUIRED")
    deal = create(admin, "deal", {"title": "Big one", "company": company["id"]}, noProcess="true")
    assert deal["activeInstance"] is None
    on_deal = moved(move(admin, "moveNext", cinst, target=deal["id"]), "negotiate")
    assert on_deal["activeRecord"]["id"] == deal["id"]

    # CANCELLED: the veto plugin refuses to abandon a case.
    case = create(admin, "case", {"title": "Printer on fire"})
    vetoed = refused(move(admin, "abandonProcess", case["activeInstance"]["id"]), "CANCELLED")
    now = admin.gql("query($i: ID!) { processInstance(id: $i) { version status } }",
                    i=case["activeInstance"]["id"])["processInstance"]
    assert now["status"] == "ACTIVE" and vetoed["currentVersion"] == now["version"]  # unchanged, and said so

    # deleteRecord: stale version refused; then deleted with its instances.
    q = "mutation($id: ID!, $v: Int) { r: deleteRecord(id: $id, expectedVersion: $v) { __typename ...R ...V } }"
    assert admin.gql(q + RECORD, id=case["id"], v=case["version"] + 1)["r"]["__typename"] == "ValidationError"
    assert admin.gql(q + RECORD, id=case["id"], v=case["version"])["r"]["id"] == case["id"]
    assert admin.gql("query($id: ID!) { record(id: $id) { id } }", id=case["id"])["record"] is None


def test_reads(live: Live) -> None:
    """records(where, stage, search, paging, total), typed entity fields, lookups, form, analytics, diagram."""
    c = live.client(live.token("ann", "salesperson"))
    account = create(c, "account", {"name": "Acme Retail", "industry": "retail"})
    ids = [create(c, "lead", {"topic": f"Lead {i}", "existing_account": account["id"] if i % 2 else None,
                              "budget_amount": 100 * i})["id"] for i in range(7)]
    page = c.gql('{ records(entity: "lead", first: 3) { items { id } nextCursor total } }')["records"]
    assert page["total"] == 7 and len(page["items"]) == 3 and page["nextCursor"]
    seen = [i["id"] for i in page["items"]]
    while page["nextCursor"]:
        page = c.gql('query($a: String) { records(entity: "lead", first: 3, after: $a) { items { id } nextCursor '
                     "total } }", a=page["nextCursor"])["records"]
        seen += [i["id"] for i in page["items"]]
    assert sorted(seen) == sorted(ids)
    linked = c.gql('query($w: JSON) { records(entity: "lead", where: $w) { total items { id } } }',
                   w={"existing_account": account["id"]})["records"]
    assert linked["total"] == 3
    assert c.gql('{ records(entity: "lead", stage: "qualify") { total } }')["records"]["total"] == 7
    assert c.gql('{ records(entity: "lead", search: "LEAD 3") { total } }')["records"]["total"] == 1
    assert c.gql('{ records(entity: "lead", search: "topic") { total } }')["records"]["total"] == 0  # keys don't match
    typed = c.gql('query($id: ID!) { lead(id: $id) { id topic budget_amount existing_account { name industry } '
                  "activeInstance { activeStage { name } } form { name required locked hidden value } } }",
                  id=ids[1])["lead"]
    assert typed["topic"] == "Lead 1" and typed["budget_amount"] == 100.0
    assert typed["existing_account"] == {"name": "Acme Retail", "industry": "retail"}
    assert {f["name"]: f["required"] for f in typed["form"]}["topic"] is True
    assert c.gql('query($id: ID!) { opportunity(id: $id) { id } }', id=ids[1])["opportunity"] is None
    meta = c.gql('{ entities { name fields { name type options { name } lookupEntity } } me { user roles } '
                 'processes(entity: "lead") { name order roles stages { name steps { name kind required } } } }')
    assert meta["me"] == {"user": "ann", "roles": ["salesperson"]}
    assert [p["name"] for p in meta["processes"]] == ["lead_to_opportunity", "lead_nurture"]
    stats = c.gql('{ processAnalytics(name: "lead_to_opportunity") { process { name } stages { stage { name } '
                  "count medianSeconds conversionToNext } } }")["processAnalytics"]
    assert stats["stages"][0]["count"] == 7
    svg = c.gql('{ processDiagram(name: "lead_to_opportunity") }')["processDiagram"]
    assert svg.lstrip().startswith("<")
    assert c.gql('{ processDiagram(name: "phone_to_case") }')["processDiagram"] is None  # not the caller's
    bad = c.post('{ records(entity: "nope") { total } }').json()
    assert "unknown entity" in bad["errors"][0]["message"]
