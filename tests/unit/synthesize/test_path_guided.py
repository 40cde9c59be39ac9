"""The path-guided offline teacher as a searcher: image tools from measurements, entities named only after an
observation showed them, answers copied from observations, honest failure."""

from __future__ import annotations

import json

from PIL import Image, ImageDraw

from tasks.pool.degrade import downsample, gaussian_blur, perspective
from tasks.synthesize.image_checks import measure
from tasks.synthesize.path_guided import PathGuidedPolicy, Plan, copy_span, hop_evidence
from toolenv import FinalAnswer, ToolCall, parse_turn

PLAN = Plan("What is the population of the capital of the country whose flag is shown?", "2571861",
            ("2,571,861",), ("Angola", "Luanda"), ("capital",), "population", degradation="blur")
IMAGE_OK = "Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "Albania"}, {"title": "Angola"}]})


def flag(width: int = 1024, height: int = 768) -> Image.Image:
    img = Image.new("RGB", (width, height), (200, 20, 30))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, height // 2, width, height), fill=(10, 10, 10))
    draw.ellipse((width // 3, height // 4, 2 * width // 3, 3 * height // 4), outline=(250, 210, 0), width=25)
    return img


def passage(title: str, summary: str) -> str:
    return f"[Passage 1]\nTitle: {title}\nURL: https://en.wikipedia.org/wiki/{title}\nSummary:\n{summary}"


def call(turn: str) -> tuple[str, dict[str, object], str]:
    parsed = parse_turn(turn)
    assert isinstance(parsed, ToolCall), turn
    return parsed.name, parsed.arguments, parsed.think


def test_image_tools_come_from_measurements_not_from_the_label() -> None:
    sharp = flag()
    assert not (measure(sharp).small or measure(sharp).blurry or measure(sharp).skewed)
    assert measure(gaussian_blur(sharp, 2.0)).blurry
    assert measure(downsample(sharp, 4)).small
    assert measure(perspective(sharp, [(0.1, 0.05), (0.02, 0.1), (0.1, 0.02), (0.05, 0.12)])[0]).skewed
    for image, tool in [(gaussian_blur(sharp, 2.0), "sharpen"), (downsample(sharp, 4), "super_resolution"),
                        (sharp, "image_search")]:
        name, args, think = call(PathGuidedPolicy(PLAN).next_turn(PLAN.question, images=[image]))
        assert (name, args) == (tool, {"image": "img_1"})
        assert "blur " not in f"{think} " and "degrad" not in think      # the hidden label is never read


def test_names_the_next_entity_only_after_a_passage_shows_it_and_copies_the_answer() -> None:
    p = PathGuidedPolicy(PLAN)
    assert call(p.next_turn(PLAN.question, images=[gaussian_blur(flag(), 2.0)]))[0] == "sharpen"
    assert call(p.next_turn("Sharpened.\nNew image: img_2 (1024×768 px).", new_images=1))[:2] == (
        "image_search", {"image": "img_2"})
    name, args, think = call(p.next_turn(IMAGE_OK))
    assert (name, args) == ("text_search", {"q": "Angola capital"}) and "Luanda" not in think
    # the passage does not name the capital: refine without naming it
    name, args, think = call(p.next_turn(passage("Angola", "Angola is a country in Southern Africa.")))
    assert args == {"q": "Angola"} and "Luanda" not in think
    name, args, think = call(p.next_turn(passage("Angola", "Its capital and largest city is Luanda.")))
    assert args == {"q": "Luanda population"} and "Its capital and largest city is Luanda." in think
    final = p.next_turn(passage("Luanda", "Luanda is a port.\n- population: 2,571,861"))
    parsed = parse_turn(final)
    assert isinstance(parsed, FinalAnswer) and parsed.text == "\\boxed{2,571,861}"   # as written, not the gold
    assert "https://en.wikipedia.org/wiki/Luanda" in parsed.think


def test_gives_up_honestly_when_the_tools_do_not_show_the_evidence() -> None:
    p = PathGuidedPolicy(Plan("q?", "x", (), ("A", "B"), ("rel",), "attr"))
    assert call(p.next_turn("q?", images=[flag()]))[0] == "image_search"
    final = p.next_turn("Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "Z"}]}))
    assert "cannot be determined" in final and "\\boxed" not in final
    q = PathGuidedPolicy(Plan("q?", "x", (), ("A", "B"), ("rel",), "attr"))
    q.next_turn("q?")
    q.next_turn("Tool execution result:\n" + json.dumps({"visual_matches": [{"title": "A"}]}))
    assert call(q.next_turn(passage("A", "nothing here")))[1] == {"q": "A"}                  # never "A rel B"
    assert call(q.next_turn(passage("A", "nothing here")))[1] == {"q": "A", "top_k": 10}
    assert "cannot be determined" in q.next_turn(passage("A", "still nothing"))


def test_hop_evidence_prefers_the_sentence_with_the_relation_cue_and_spans_are_copied() -> None:
    obs = passage("Angola", "Luanda is mentioned here. Its capital and largest city is Luanda.")
    assert hop_evidence(obs, "Angola", "Luanda", "capital city") == "Its capital and largest city is Luanda."
    assert copy_span("it covers 44,579,000 square kilometers, about 30%", ["44579000 km2"]) == \
        "44,579,000 square kilometers"
    assert copy_span("nothing", ["x"]) is None


def test_small_text_is_cropped_and_read_before_the_image_search() -> None:
    sign = Image.new("RGB", (1024, 768), (235, 235, 235))
    ImageDraw.Draw(sign).text((60, 650), "WELCOME TO LUANDA 1975", fill=(0, 0, 0), font_size=40)
    p = PathGuidedPolicy(PLAN, ocr=True)
    name, args, think = call(p.next_turn(PLAN.question, images=[sign]))
    assert name == "crop" and args["image"] == "img_1" and "Character-shaped marks" in think
    assert 600 <= int(str(args["y"])) <= 660 and int(str(args["width"])) < 1024
    assert call(p.next_turn("Cropped.\nNew image: img_2 (500×60 px).", new_images=1))[:2] == (
        "layout_parsing", {"image": "img_2"})
    name, args, think = call(p.next_turn("Layout Parsing SUCCESS: 1 text blocks detected.\n[Text Block 1] WELCOME "
                                         "TO LUANDA 1975\n\nALL RECOGNIZED TEXT:\nWELCOME TO LUANDA 1975"))
    assert (name, args) == ("image_search", {"image": "img_1"}) and "WELCOME TO LUANDA 1975" in think
    assert call(PathGuidedPolicy(PLAN).next_turn(PLAN.question, images=[sign]))[0] == "image_search"  # no OCR tool


def test_measurements_on_the_bundled_flags() -> None:
    from pathlib import Path

    flags = sorted((Path(__file__).resolve().parents[3] / "corpus/enwiki-sample/media").glob("flag_of_*.png"))
    assert flags
    warp = [(0.1, 0.05), (0.02, 0.1), (0.1, 0.02), (0.05, 0.12)]
    for path in flags:
        img = Image.open(path).convert("RGB")
        clean, soft = measure(img), measure(gaussian_blur(img, 1.5))
        assert not (clean.blurry or clean.skewed or clean.small), path.name
        assert soft.blurry and not soft.skewed, path.name
        assert measure(perspective(img, warp)[0]).skewed and measure(downsample(img, 4)).small, path.name
