"""Label Studio exports and labeling configs of *other* projects, written here in the shapes Label
Studio produces (never copied from a project): shared by the validate and import tests."""

from __future__ import annotations

NER_LABEL = """<View>
  <Labels name="label" toName="text">
    <Label value="PER"/><Label value="ORG"/><Label value="LOC"/>
  </Labels>
  <Text name="text" value="$text"/>
</View>"""

NER_NER = NER_LABEL.replace('name="label"', 'name="ner"')

RELATIONS = """<View>
  <Relations><Relation value="works_for"/><Relation value="based_in"/></Relations>
  <Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels>
  <Text name="text" value="$text"/>
</View>"""

RELATIONS_UNLABELLED = """<View>
  <Labels name="label" toName="text"><Label value="PER"/><Label value="ORG"/></Labels>
  <Text name="text" value="$text"/>
</View>"""

DANISH = """<View>
  <Text name="doc_text" value="$text"/>
  <Labels name="ner" toName="doc_text"><Label value="PER"/><Label value="ORG"/><Label value="LOC"/></Labels>
  <Choices name="sikkerhed" toName="doc_text" perRegion="true" whenLabelValue="PER">
    <Choice value="sikker"/><Choice value="usikker"/>
  </Choices>
  <Choices name="emne" toName="doc_text" choice="single"><Choice value="politik"/><Choice value="sport"/></Choices>
</View>"""

EN = "Maria Lopez works for Acme Corp in Berlin."
#     0123456789012345678901234567890123456789012


def span(text: str, s: str, label: str, control: str = "label", rid: str | None = None, to: str = "text") -> dict:
    i = text.index(s)
    r = {
        "from_name": control,
        "to_name": to,
        "type": "labels",
        "value": {"start": i, "end": i + len(s), "text": s, "labels": [label]},
    }
    if rid is not None:
        r["id"] = rid
    return r


def rel(a: str, b: str, labels: list[str] | None) -> dict:
    r = {"from_id": a, "to_id": b, "type": "relation", "direction": "right"}
    if labels is not None:
        r["labels"] = labels
    return r


def task(tid, text, results, aid=1, who=7, **extra) -> dict:
    return {
        "id": tid,
        "data": {"text": text},
        "annotations": [{"id": aid, "completed_by": who, "result": results, "was_cancelled": False}],
        "predictions": [],
        **extra,
    }


DA = "🎉🇩🇰 Mette Frederiksen besøgte Aarhus Universitet i går."
