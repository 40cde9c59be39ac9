"""The labelled trajectory set for the grounding rules: grounded trajectories the process judge must keep and
trajectories broken in one rule's way that it must reject with that rule as the reason.

A trajectory is written as steps: ``("call", think, tool, args)``, ``("obs", text)`` (a tool response) and
``("answer", think, answer)``. ``Case.expect`` is None for a good trajectory, else the one rule it breaks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from schemas.synthesis import Trajectory, TurnRecord
from tasks.synthesize.grounding import Hidden

Step = tuple[Any, ...]

Q_ANGOLA = "What is the population of the capital of the country whose flag is shown in the image?"
Q_OCEAN = ("What is the depth of the body of water that the country whose flag is shown in the image borders to "
           "the west?")
Q_APOLLO = "Who is the twin sister of the god named in the article on the continent linked to the Atlantic Ocean?"


def passage(*pages: tuple[str, str]) -> str:
    return "\n\n".join(f"[Passage {i}]\nTitle: {t}\nURL: https://en.wikipedia.org/wiki/{t.replace(' ', '_')}\n"
                       f"Summary:\n{s}" for i, (t, s) in enumerate(pages, 1))


def matches(*titles: str, caption: str = "") -> str:
    body = {"visual_matches": [{"position": i, "title": t, "url": f"https://en.wikipedia.org/wiki/{t}",
                                "caption": caption} for i, t in enumerate(titles, 1)], "related_urls": []}
    return "Tool execution result:\n" + json.dumps(body, indent=1)


def call(think: str, tool: str, **args: Any) -> Step:
    return ("call", think, tool, args)


def obs(text: str) -> Step:
    return ("obs", text)


def answer(think: str, text: str) -> Step:
    return ("answer", think, text)


def build(question: str, steps: list[Step], raw: str | None = None) -> Trajectory:
    """A trajectory from steps; ``raw`` replaces the text of the first assistant turn (malformed turns)."""
    turns = [TurnRecord(0, "system", "You are a Visual Investigation Agent."), TurnRecord(1, "user", question)]
    final = None
    calls = 0
    for step in steps:
        i = len(turns)
        if step[0] == "call":
            text = f"<think>{step[1]}</think>\n<tool_call>{json.dumps({'name': step[2], 'arguments': step[3]})}" \
                   "</tool_call>"
            if raw is not None and calls == 0:
                text = raw
            turns.append(TurnRecord(i, "assistant", text))
            calls += 1
        elif step[0] == "obs":
            turns.append(TurnRecord(i, "tool", step[1], tool="x"))
        else:
            turns.append(TurnRecord(i, "assistant", f"<think>{step[1]}</think>\n<response>{step[2]}</response>"))
            final = step[2]
    return Trajectory("t", "i", 0, "test", tuple(turns), "answered", final, calls)


@dataclass(frozen=True)
class Case:
    name: str
    traj: Trajectory
    hidden: Hidden
    expect: str | None


ANGOLA = Hidden(Q_ANGOLA, "2571861", ("2,571,861",), ("Angola", "Luanda"))
OCEAN = Hidden(Q_OCEAN, "3646 m", (), ("Angola", "Atlantic Ocean"))
APOLLO = Hidden(Q_APOLLO, "Artemis", (), ("Atlantic Ocean", "Asia", "Apollo"))

IMG_ANGOLA = matches("Angola", "Angolan Armed Forces", "Albania", caption="Flag of Angola")
ANGOLA_CAPITAL = passage(("Angola", "Angola is a country in Southern Africa. Its capital and largest city is Luanda."),
                         ("Politics of Angola", "The President of Angola is head of state."))
LUANDA_POP = passage(("Luanda", "Luanda is the capital of Angola.\n- population: 2,571,861"))
ANGOLA_WEST = passage(("Angola", "Angola is bordered by Namibia to the south, Zambia to the east, and the Atlantic "
                                 "Ocean to the west."))
ATLANTIC_DEPTH = passage(("Atlantic Ocean", "The Atlantic Ocean is the second-largest ocean.\n- depth: 3,646 m"))
ATLANTIC_ASIA = passage(("Atlantic Ocean", "It separates the Old World of Europe and Asia from the New World."))
ASIA_APOLLO = passage(("Asia", "Greek mythology placed Apollo, the god of music, in Asia Minor."))
APOLLO_TWIN = passage(("Apollo", "Apollo is the son of Zeus and Leto, and has a twin sister, the chaste huntress "
                                 "Artemis."))


def angola_steps(*, first: Step | None = None, search_args: dict[str, Any] | None = None,
                 capital_think: str = "The top match, and the one whose caption reads Flag of Angola, is Angola. "
                                      "Next: the capital of Angola.",
                 pop_think: str = "The passage about Angola says: Its capital and largest city is Luanda. Now "
                                  "the population of Luanda.",
                 pop_query: str = "Luanda population",
                 final_think: str = "The passage about Luanda states: population: 2,571,861.",
                 final: str = "\\boxed{2,571,861}", pop_obs: str = LUANDA_POP) -> list[Step]:
    steps = [first] if first else []
    steps += [
        call("The flag in img_1 must be identified before anything else; a reverse image search finds it.",
             "image_search", **(search_args or {"image": "img_2" if first else "img_1"})),
        obs(IMG_ANGOLA),
        call(capital_think, "text_search", q="Angola capital"),
        obs(ANGOLA_CAPITAL),
        call(pop_think, "text_search", q=pop_query),
        obs(pop_obs),
        answer(final_think, final),
    ]
    return steps


SHARPEN = call("img_1 has a variance of Laplacian of 14, far under 100: it is blurry. Sharpen it first.",
               "sharpen", image="img_1")
UPSCALE = call("img_1 is 256×192 px, under 500 px wide: upscale it with super_resolution first.",
               "super_resolution", image="img_1")
STRAIGHTEN = call("The flag's edges in img_1 are not parallel to the frame; straighten it with perspective_correct.",
                  "perspective_correct", image="img_1")


def ocean_steps(*, final: str = "\\boxed{3,646 m}", west_think: str = "The passage about Angola says: the Atlantic "
                "Ocean to the west. Next: the depth of the Atlantic Ocean.", depth_obs: str = ATLANTIC_DEPTH,
                final_think: str = "The passage about Atlantic Ocean states: depth: 3,646 m.") -> list[Step]:
    return [
        call("Identify the flag in img_1 with a reverse image search.", "image_search", image="img_1"),
        obs(IMG_ANGOLA),
        call("The image search finds Angola. Search for what Angola borders to the west.", "text_search",
             q="Angola borders west", top_k=3),
        obs(ANGOLA_WEST),
        call(west_think, "text_search", q="Atlantic Ocean depth", hl="en"),
        obs(depth_obs),
        answer(final_think, final),
    ]


def apollo_steps(*, god_think: str = "The passage about Atlantic Ocean names Europe and Asia. Search Asia for the "
                 "god.", twin_query: str = "Apollo twin sister",
                 final_think: str = "The passage about Apollo says he has a twin sister, the chaste huntress "
                                    "Artemis.", final: str = "\\boxed{Artemis}") -> list[Step]:
    return [
        call("The question starts from the Atlantic Ocean; search it for the continent.", "text_search",
             q="Atlantic Ocean continent"),
        obs(ATLANTIC_ASIA),
        call(god_think, "text_search", q="Asia god"),
        obs(ASIA_APOLLO),
        call("The passage about Asia names Apollo, the god of music. Search for his twin sister.", "text_search",
             q=twin_query),
        obs(APOLLO_TWIN),
        answer(final_think, final),
    ]


CROP_OCR = [
    call("img_1 shows a sign with small text in its lower third; crop that region before reading it.", "crop",
         image="img_1", x=0, y=120, width=256, height=72),
    obs("Cropped img_1 to (0, 120, 256, 72).\nNew image: img_2 (256×72 px)."),
    call("Read the text of the cropped sign img_2.", "layout_parsing", image="img_2"),
    obs("Layout Parsing SUCCESS: 1 text blocks detected.\n[Text Block 1] Welcome to Luanda\n\nALL RECOGNIZED TEXT:\n"
        "Welcome to Luanda"),
    call("The sign reads Welcome to Luanda. Search for the population of Luanda.", "text_search",
         q="Luanda population"),
    obs(LUANDA_POP),
    answer("The passage about Luanda states: population: 2,571,861.", "\\boxed{2,571,861}"),
]
Q_SIGN = "What is the population of the city named on the sign in the image?"


def cases() -> list[Case]:
    a, o, p = ANGOLA, OCEAN, APOLLO
    blur = Hidden(Q_ANGOLA, a.answer, a.aliases, a.nodes, "blur")
    down = Hidden(Q_ANGOLA, a.answer, a.aliases, a.nodes, "downsample")
    persp = Hidden(Q_ANGOLA, a.answer, a.aliases, a.nodes, "perspective")
    scored = Hidden(Q_ANGOLA, a.answer, a.aliases, a.nodes, None, ("0.8731",))
    sign = Hidden(Q_SIGN, a.answer, a.aliases, ("Luanda",))
    good = [
        Case("angola", build(Q_ANGOLA, angola_steps()), a, None),
        Case("angola_blur_sharpened", build(Q_ANGOLA, angola_steps(first=SHARPEN)), blur, None),
        Case("angola_downsample_upscaled", build(Q_ANGOLA, angola_steps(first=UPSCALE)), down, None),
        Case("angola_perspective_straightened", build(Q_ANGOLA, angola_steps(first=STRAIGHTEN)), persp, None),
        Case("angola_sentence_answer", build(Q_ANGOLA, angola_steps(
            final="The population of Luanda is \\boxed{2,571,861}.")), a, None),
        Case("angola_opener_not_an_entity", build(Q_ANGOLA, angola_steps(final_think="Enough evidence."))
             , a, None),
        Case("angola_no_citation", build(Q_ANGOLA, angola_steps(final_think="That settles it."))
             , a, None),
        Case("angola_gate_score_not_repeated", build(Q_ANGOLA, angola_steps()), scored, None),
        Case("ocean", build(Q_OCEAN, ocean_steps()), o, None),
        Case("ocean_unit_spelled", build(Q_OCEAN, ocean_steps(final="\\boxed{3646 metres}")), o, None),
        Case("ocean_question_entity", build(Q_OCEAN, ocean_steps(
            west_think="The question's Atlantic Ocean shows up in the passage about Angola. Next: its depth.")),
             o, None),
        Case("apollo", build(Q_APOLLO, apollo_steps()), p, None),
        Case("apollo_two_word_runs", build(Q_APOLLO, apollo_steps(
            final_think="Zeus Leto Apollo Artemis: the passage about Apollo names Artemis as his twin sister.")),
             p, None),
        Case("sign_crop_ocr", build(Q_SIGN, CROP_OCR), sign, None),
    ]
    schema = [
        Case("image_search_url_key", build(Q_ANGOLA, angola_steps(search_args={"url": "img_1"})), a,
             "schema_conformity"),
        Case("image_search_extra_key", build(Q_ANGOLA, angola_steps(search_args={"image": "img_1", "q": "flag"})), a,
             "schema_conformity"),
        Case("image_search_no_image", build(Q_ANGOLA, angola_steps(search_args={"top_k": 3})), a,
             "schema_conformity"),
        Case("image_search_top_k_string", build(Q_ANGOLA, angola_steps(search_args={"image": "img_1", "top_k": "3"})),
             a, "schema_conformity"),
        Case("image_search_top_k_bool", build(Q_ANGOLA, angola_steps(search_args={"image": "img_1", "top_k": True})),
             a, "schema_conformity"),
        Case("image_search_top_k_too_big", build(Q_ANGOLA, angola_steps(search_args={"image": "img_1",
                                                                                     "top_k": 50})),
             a, "schema_conformity"),
        Case("superres_scale_8", build(Q_ANGOLA, angola_steps(first=call(
            "img_1 is 256×192 px, under 500 px wide: upscale it.", "super_resolution", image="img_1", scale=8))),
             a, "schema_conformity"),
        Case("sharpen_amount_text", build(Q_ANGOLA, angola_steps(first=call(
            "img_1 has a variance of Laplacian of 14: it is blurry.", "sharpen", image="img_1", amount="strong"))),
             a, "schema_conformity"),
        Case("crop_missing_height", build(Q_SIGN, [call("Crop the lower third of img_1.", "crop", image="img_1", x=0,
                                                        y=120, width=256), *CROP_OCR[1:]]), sign,
             "schema_conformity"),
        Case("unknown_tool", build(Q_ANGOLA, angola_steps(first=call("Look at img_1 more closely.", "zoom",
                                                                     image="img_1"))), a, "schema_conformity"),
        Case("text_search_query_key", build(Q_OCEAN, [*ocean_steps()[:2], call(
            "The image search finds Angola. Search what it borders.", "text_search", query="Angola borders west"),
            *ocean_steps()[3:]]), o, "schema_conformity"),
        Case("no_think", build(Q_ANGOLA, angola_steps(), raw='<tool_call>{"name": "image_search", "arguments": '
                                                             '{"image": "img_1"}}</tool_call>'), a,
             "schema_conformity"),
    ]
    hidden = [
        Case("says_downsample", build(Q_ANGOLA, angola_steps(first=call(
            "The image looks degraded (downsample); repair it with super_resolution.", "super_resolution",
            image="img_1"))), down, "hidden_label"),
        Case("says_blur_label", build(Q_ANGOLA, angola_steps(first=call(
            "The image has a blur applied; sharpen it.", "sharpen", image="img_1"))), blur, "hidden_label"),
        Case("says_perspective_label", build(Q_ANGOLA, angola_steps(first=call(
            "The image got a perspective warp; use perspective_correct.", "perspective_correct", image="img_1"))),
             persp, "hidden_label"),
        Case("says_degradation", build(Q_ANGOLA, angola_steps(first=call(
            "This image had a degradation; sharpen it to be safe.", "sharpen", image="img_1"))), blur,
             "hidden_label"),
        Case("gate_score_in_think", build(Q_ANGOLA, angola_steps(
            capital_think="The top match is Angola (relevance 0.8731). Next: the capital of Angola.")), scored,
             "hidden_label"),
        Case("gate_score_in_final", build(Q_ANGOLA, angola_steps(
            final_think="The passage about Luanda states: population: 2,571,861 (item score 0.8731).")), scored,
             "hidden_label"),
        Case("downsample_in_later_think", build(Q_ANGOLA, angola_steps(
            first=UPSCALE, capital_think="After fixing the downsample, the top match is Angola. Next: its capital.")),
             down, "hidden_label"),
        Case("blur_in_query", build(Q_ANGOLA, [SHARPEN, call("Identify img_2.", "image_search", image="img_2"),
                                               obs(IMG_ANGOLA), call("The match is Angola.", "text_search",
                                                                     q="Angola capital blur"),
                                               *angola_steps()[3:]]), blur, "hidden_label"),
    ]
    entity = [
        Case("next_node_in_query_before_seen", build(Q_ANGOLA, [
            *angola_steps()[:2], call("The top match is Angola. Search its capital.", "text_search",
                                      q="Angola capital Luanda"), *angola_steps()[3:]]), a, "entity_provenance"),
        Case("next_node_in_think_before_seen", build(Q_ANGOLA, angola_steps(
            capital_think="The top match is Angola, whose capital points to Luanda. Search it.")), a,
             "entity_provenance"),
        Case("answer_node_query_without_evidence", build(Q_ANGOLA, [
            *angola_steps()[:3], obs(passage(("Angola", "Angola is a country in Southern Africa."))),
            *angola_steps()[4:]]), a, "entity_provenance"),
        Case("apollo_before_seen", build(Q_APOLLO, apollo_steps(
            god_think="The passage about Atlantic Ocean points to Asia, and Asia points to Apollo.")), p,
             "entity_provenance"),
        Case("gold_in_query", build(Q_APOLLO, apollo_steps(twin_query="Apollo twin sister Artemis")), p,
             "entity_provenance"),
        Case("unseen_city", build(Q_ANGOLA, angola_steps(
            capital_think="The top match is Angola, not Portugal as Lisbon would suggest. Next: its capital.")),
             a, "entity_provenance"),
        Case("unseen_person_in_final", build(Q_ANGOLA, angola_steps(
            final_think="The passage about Luanda states: population: 2,571,861, as counted by Agostinho Neto.")),
             a, "entity_provenance"),
        Case("unseen_entity_first_turn", build(Q_OCEAN, [call(
            "The flag looks like the one of Mozambique; confirm it.", "image_search", image="img_1"),
            *ocean_steps()[1:]]), o, "entity_provenance"),
        Case("unseen_ocean", build(Q_ANGOLA.replace("population of the capital", "depth of the ocean west"), [
            call("Identify the flag.", "image_search", image="img_1"), obs(IMG_ANGOLA),
            call("It is Angola, which borders the Indian Ocean to the east; search the west.", "text_search",
                 q="Angola west"), obs(ANGOLA_WEST),
            call("Angola borders the Atlantic Ocean to the west. Search its depth.", "text_search",
                 q="Atlantic Ocean depth"), obs(ATLANTIC_DEPTH),
            answer("The passage about Atlantic Ocean states: depth: 3,646 m.", "\\boxed{3,646 m}")]),
             Hidden(Q_ANGOLA, "3646 m", (), ("Angola", "Atlantic Ocean")), "entity_provenance"),
    ]
    answer_cases = [
        Case("gold_spelling_not_in_observation", build(Q_OCEAN, ocean_steps(final="\\boxed{3646 feet}")), o,
             "answer_provenance"),
        Case("answer_nowhere", build(Q_APOLLO, apollo_steps(final="\\boxed{Selene}",
                                                            final_think="The passage about Apollo settles it.")), p,
             "answer_provenance"),
        Case("cited_page_lacks_answer", build(Q_APOLLO, apollo_steps(
            final_think="The passage about Asia states it.")), p, "answer_provenance"),
        Case("cited_page_lacks_number", build(Q_ANGOLA, angola_steps(
            final_think="The passage about Angola states it.")), a, "answer_provenance"),
        Case("answer_only_in_question", build(Q_OCEAN.replace("west?", "west (about 3646 m deep)?"), ocean_steps(
            depth_obs=passage(("Atlantic Ocean", "The Atlantic Ocean is the second-largest ocean."))
        )), Hidden(Q_OCEAN.replace("west?", "west (about 3646 m deep)?"), "3646 m", (), o.nodes),
             "answer_provenance"),
        Case("rounded_number", build(Q_ANGOLA, angola_steps(final="\\boxed{2,571,000}")), a, "answer_provenance"),
        Case("answer_from_think_not_observation", build(Q_OCEAN, ocean_steps(
            depth_obs=passage(("Atlantic Ocean", "The Atlantic Ocean is the second-largest ocean.")),
            final_think="The passage about Atlantic Ocean gives no depth, so I recall it.")), o,
             "answer_provenance"),
        Case("sign_answer_not_in_passage", build(Q_SIGN, [*CROP_OCR[:-2], obs(passage(("Luanda", "Luanda is a city."))),
                                                           CROP_OCR[-1]]), sign, "answer_provenance"),
    ]
    return good + schema + hidden + entity + answer_cases
