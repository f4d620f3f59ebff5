"""Eval metrics on hand-computed cases."""

from __future__ import annotations

import json
import math
import random
import re
from types import SimpleNamespace

import pytest

from eval import metrics
from eval.questions import ReferenceQuestion
from indexer.language import question_language


def test_success_and_mrr_first_hit():
    ranked = ["a", "b", "c", "d"]
    assert metrics.first_relevant_rank(ranked, {"c"}) == 3
    assert metrics.success_at(ranked, {"c"}, 1) == 0.0
    assert metrics.success_at(ranked, {"c"}, 3) == 1.0
    assert metrics.mrr_at(ranked, {"c"}, 10) == pytest.approx(1 / 3)
    assert metrics.mrr_at(ranked, {"c"}, 2) == 0.0


def test_any_relevant_id_counts_and_duplicates_in_ranking_count_once():
    # "a" twice (two passages of one article) must not push "b" down to rank 3
    ranked = ["a", "a", "b"]
    assert metrics.first_relevant_rank(ranked, {"b", "z"}) == 2
    assert metrics.mrr_at(ranked, {"b", "z"}, 10) == 0.5


def test_recall_is_the_share_of_relevant_ids_found():
    # "a" twice counts once; "c" never comes: success is 1 from rank 1, recall grows with k
    ranked = ["a", "a", "x", "b", "y"]
    relevant = {"a", "b", "c"}
    assert metrics.success_at(ranked, relevant, 1) == 1.0
    assert metrics.recall_at(ranked, relevant, 1) == pytest.approx(1 / 3)
    assert metrics.recall_at(ranked, relevant, 2) == pytest.approx(1 / 3)
    assert metrics.recall_at(ranked, relevant, 3) == pytest.approx(2 / 3)
    assert metrics.recall_at(ranked, relevant, 10) == pytest.approx(2 / 3)


def test_no_relevant_article():
    assert metrics.success_at(["a", "b"], set(), 10) == 0.0
    assert metrics.recall_at(["a", "b"], set(), 10) == 0.0
    assert metrics.mrr_at(["a", "b"], {"x"}, 10) == 0.0
    assert metrics.ndcg_at(["a"], set(), 10) == 0.0
    assert metrics.first_relevant_rank([], {"x"}) is None


def test_ndcg_hand_computed():
    # relevant at ranks 1 and 3 of two relevant: (1 + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert metrics.ndcg_at(["a", "x", "b"], {"a", "b"}, 10) == pytest.approx(expected)
    assert metrics.ndcg_at(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    # ties in the ideal: a single relevant at rank 2
    assert metrics.ndcg_at(["x", "a"], {"a"}, 10) == pytest.approx(1 / math.log2(3))


def test_containment_is_case_and_space_insensitive():
    assert metrics.contains_answer("Pemenangnya   adalah\nPoltabes.", ["poltabes"]) == 1.0
    assert metrics.contains_answer("84  penumpang", ["84 penumpang"]) == 1.0
    assert metrics.contains_answer("tidak ada", ["Poltabes"]) == 0.0
    assert metrics.contains_answer(None, ["x"]) == 0.0
    assert metrics.contains_answer("x", []) == 0.0


def test_token_f1():
    # answer tokens {sekolah, anak, jalanan}, reference {anak, jalanan}: P 2/3, R 1, F1 0.8
    assert metrics.token_f1("sekolah anak jalanan", ["anak jalanan"]) == pytest.approx(0.8)
    assert metrics.token_f1("abc", ["xyz"]) == 0.0
    assert metrics.token_f1("a b", ["x", "a b"]) == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:unsafe cast:Warning")  # numba, inside ranx
def test_retrieval_metrics_agree_with_ranx():
    """MRR@10, recall@k, nDCG@10 and success@k against ranx (tested against trec_eval) on
    seeded random runs, repeats included: ours count an id's first occurrence only, which is
    the deduplicated run that ranx gets (with distinct decreasing scores)."""
    ranx = pytest.importorskip("ranx")
    rng = random.Random(20251)
    docs = [f"d{i:02d}" for i in range(30)]
    qrels, run, ours = {}, {}, {}
    for n in range(200):
        qid = f"q{n:03d}"
        relevant = set(rng.sample(docs, rng.randint(1, 12)))  # up to 12: above k=10 too
        ranked = [rng.choice(docs) for _ in range(rng.randint(1, 25))]  # repeats ids
        unique = list(dict.fromkeys(ranked))
        qrels[qid] = {doc: 1 for doc in relevant}
        run[qid] = {doc: float(len(unique) - i) for i, doc in enumerate(unique)}
        ours[qid] = (ranked, relevant)
    assert sum(len(set(r)) < len(r) for r, _ in ours.values()) > 100  # repeats were tested
    ours_by_metric = {
        "mrr@10": lambda r, rel: metrics.mrr_at(r, rel, 10),
        "ndcg@10": lambda r, rel: metrics.ndcg_at(r, rel, 10),
        "recall@5": lambda r, rel: metrics.recall_at(r, rel, 5),
        "recall@10": lambda r, rel: metrics.recall_at(r, rel, 10),
        "hit_rate@1": lambda r, rel: metrics.success_at(r, rel, 1),
        "hit_rate@10": lambda r, rel: metrics.success_at(r, rel, 10),
    }
    ranx_run = ranx.Run(run)
    ranx.evaluate(ranx.Qrels(qrels), ranx_run, list(ours_by_metric), threads=1)
    for name, ours_fn in ours_by_metric.items():
        for qid, (ranked, relevant) in ours.items():
            expected = ranx_run.scores[name][qid]
            assert ours_fn(ranked, relevant) == pytest.approx(expected), (name, qid)


def test_short_answer_normalisation():
    # casefold, punctuation (ASCII and Unicode) gone, whitespace collapsed; nothing else
    assert metrics.squad_normalize("  Rp 5,5 Juta. ") == "rp 55 juta"
    quoted = "\u201cPoltabes\u201d \u2013\n  Pangling!"
    assert metrics.squad_normalize(quoted) == "poltabes pangling"
    assert metrics.exact_match("Ratu  Dewa.", ["ratu dewa"]) == 1.0
    assert metrics.exact_match("\u201cHarnojoyo\u201d", ["Ratu Dewa", "Harnojoyo"]) == 1.0
    assert metrics.exact_match("Wali Kota Harnojoyo", ["Harnojoyo"]) == 0.0  # no containment
    assert metrics.exact_match("the Harnojoyo", ["Harnojoyo"]) == 0.0  # articles are kept
    assert metrics.exact_match(None, ["x"]) == metrics.exact_match("...", ["..."]) == 0.0
    assert metrics.exact_match("x", []) == 0.0


def test_short_f1():
    # tokens {wali, kota, harnojoyo} against {harnojoyo}: P 1/3, R 1, F1 0.5
    assert metrics.short_f1("Wali Kota Harnojoyo.", ["Harnojoyo", "Dewa"]) == pytest.approx(0.5)
    assert metrics.short_f1("ratu, dewa", ["Ratu Dewa"]) == pytest.approx(1.0)
    assert metrics.short_f1("Rp 5 juta", ["lima juta rupiah"]) == pytest.approx(1 / 3)
    assert metrics.short_f1(None, ["x"]) == metrics.short_f1("x", []) == 0.0


def test_list_recall_counts_each_reference_once_in_any_short_answer():
    references = ["Poltabes", "Pangling", "Sitepat"]
    assert metrics.list_recall(["Poltabes dan Pangling"], references) == pytest.approx(2 / 3)
    assert metrics.list_recall(["Sitepat.", "poltabes", "PANGLING"], references) == 1.0
    assert metrics.list_recall(["2015"], ["15", "20"]) == 0.0  # whole words only
    assert metrics.list_recall([], references) == 0.0


def test_question_language():
    assert question_language("Siapa yang memenangkan penghargaan di Palembang?") == "id"
    assert question_language("Berapa harga cabai pada tahun ini?") == "id"
    assert question_language("Who accepted the award on behalf of Palembang?") == "en"
    assert question_language("What does the acronym Pangling stand for?") == "en"
    assert question_language("Pangling 2020") == "id"  # no function word: a tie
    assert question_language("what yang") == "id"  # one each: a tie


def test_abstention_precision_recall():
    abstained = [True, True, False, False]
    answerable = [False, True, False, True]
    precision, recall = metrics.abstention_scores(abstained, answerable)
    assert precision == 0.5  # one of two abstentions was right
    assert recall == 0.5  # one of two unanswerable was caught
    # never abstained, nothing unanswerable: both undefined, not a perfect 1.0
    assert metrics.abstention_scores([False], [True]) == (None, None)
    # abstentions on a set without unanswerable questions: every one wrong, recall undefined
    assert metrics.abstention_scores([True, False], [True, True]) == (0.0, None)


def test_percentile_nearest_rank():
    values = [10, 20, 30, 40]
    assert metrics.percentile(values, 50) == 20
    assert metrics.percentile(values, 95) == 40
    assert metrics.percentile([], 50) == 0.0


def test_bootstrap_interval_contains_mean_and_is_reproducible():
    values = [1.0] * 70 + [0.0] * 30
    low, high = metrics.bootstrap_ci(values)
    assert low < 0.7 < high
    assert (low, high) == metrics.bootstrap_ci(values)
    assert metrics.bootstrap_ci([1.0, 1.0]) == (1.0, 1.0)


def test_latency_figures_come_from_timed_questions_only():
    from eval.runner import QuestionResult, score

    def result(i: int, latency: float | None) -> QuestionResult:
        question = ReferenceQuestion(id=str(i), question="q", relevant=frozenset({"a"}))
        return QuestionResult(question, ["a"], "x", False, ["a"], [True], latency, {"a"})

    timed = [result(0, 30.0), result(1, 10.0), result(2, 20.0)]
    report = score("hybrid", [*timed, result(3, None), result(4, None)])
    assert report.questions == 5 and report.values["mrr@10"] == 1.0
    assert report.values["latency_p50_ms"] == 20.0  # nearest rank over the 3 timed ones
    assert report.values["latency_p95_ms"] == 30.0


def _result(qid, question, answers, short_answers, abstained=False, ranked=("a",), is_list=None):
    from eval.runner import QuestionResult

    q = ReferenceQuestion(
        id=qid,
        question=question,
        relevant=frozenset({"a", "b"}),
        answers=tuple(answers),
        is_list=is_list,
    )
    return QuestionResult(
        q, list(ranked), "jawaban", abstained, [], [], 10.0, {"a", "b"}, list(short_answers)
    )


def test_score_reports_short_answers_and_figures_per_language():
    from eval.runner import score

    results = [
        _result("1", "Siapa wali kota Palembang?", ["Harnojoyo"], ["Harnojoyo.", "Dewa"]),
        _result("2", "Who is the mayor?", ["Harnojoyo"], ["Wali Kota Harnojoyo"], ranked="ba"),
        _result("3", "Apa saja?", ["Poltabes", "Pangling"], ["Poltabes"], is_list=True),
        _result("4", "Apa itu Pangling?", ["Penyuluhan Keliling"], ["x"], abstained=True),
        _result("5", "Kapan?", ["2020"], []),  # an old server: no short answers
    ]
    report = score("hybrid", results)
    values = report.values
    assert values["success@1"] == 1.0
    assert values["recall@5"] == pytest.approx(0.6)  # 2 of 2 once, 1 of 2 four times
    # the first short answer only; an abstention and a missing short answer score 0
    assert values["exact_match"] == pytest.approx(2 / 5)
    assert values["short_f1"] == pytest.approx((1 + 0.5 + 1) / 5)
    assert values["list_recall"] == 0.5  # question 3 alone is a list
    assert values["answered"] == pytest.approx(4 / 5)  # question 4 abstained
    assert set(report.by_language) == {"en", "id"}
    english = report.by_language["en"]
    assert english["questions"] == 1 and english["exact_match"] == 0.0
    assert english["short_f1"] == pytest.approx(0.5) and english["recall@10"] == 1.0
    assert report.by_language["id"]["questions"] == 4
    assert "list_recall" not in english


def test_abstention_figures_without_unanswerable_questions_are_not_measured(tmp_path):
    """facqa-valid has no unanswerable question: its report showed abstention_recall 1.000
    (nothing to catch, so "all caught") and a gate on it passed whatever the service did."""
    from eval.report import markdown_table
    from eval.runner import score
    from eval.suite import check_gate

    results = [
        _result("1", "Siapa dia?", ["Dewa"], ["Dewa"]),
        _result("2", "Apa itu?", ["Pangling"], [], abstained=True),  # a wrong abstention
    ]
    report = score("hybrid", results)
    assert "abstention_recall" not in report.values
    assert report.values["abstention_precision"] == 0.0  # its one abstention was wrong
    assert "| abstention_recall | - |" in markdown_table("set", [report])
    gate = tmp_path / "gate.toml"
    gate.write_text('[set]\n"abstention_recall" = 0.85\n')
    assert check_gate({"set": [report]}, gate, "hybrid") == [
        "set/hybrid: abstention_recall was not measured"
    ]
    never = score("hybrid", [_result("1", "Siapa dia?", ["Dewa"], ["Dewa"])])
    assert "abstention_precision" not in never.values  # never abstained: undefined


def test_report_says_how_many_questions_each_figure_is_over():
    """facqa-valid's list_recall 0.500 is one question's (the only one with two answers) and
    its latency the first 100 questions', beside figures of all 311: the table did not say."""
    from eval.report import markdown_table
    from eval.runner import QuestionResult, score

    unanswerable = ReferenceQuestion(id="4", question="Siapa?", answerable=False)
    results = [
        _result("1", "Siapa dia?", ["Dewa"], ["Dewa"]),
        _result("2", "Apa saja?", ["Poltabes", "Pangling"], ["Poltabes"], is_list=True),
        _result("3", "Kapan?", ["2020"], ["2020"]),
        QuestionResult(unanswerable, ["a"], None, True, [], [], None, set()),
    ]
    report = score("hybrid", results)
    assert report.scored["mrr@10"] == 3 and report.scored["list_recall"] == 1
    assert report.scored["latency_p50_ms"] == 3  # the fourth was not timed
    text = markdown_table("set", [report])
    assert "| questions | 4 |" in text
    assert "| list_recall | 0.500 (n=1) |" in text
    assert "| exact_match | 1.000 (n=3) |" in text
    assert "| abstention_recall | 1.000 |" in text  # over the set: no count


def test_a_reused_out_folder_keeps_no_export_of_an_earlier_run(tmp_path):
    """--out reused with fewer modes kept run-<set>-dense.trec and results-<set>-dense.jsonl of
    the run before beside a report.json without dense: ranx read them as this run's."""
    from eval.report import write_report
    from eval.runner import score

    results = [_result("1", "Siapa dia?", ["Dewa"], ["Dewa"])]
    out = tmp_path / "out"
    write_report(out, {"set": [score("bm25", results), score("dense", results)]})
    write_report(out, {"other": [score("bm25", results)]})
    (out / "notes.txt").write_text("mine")
    write_report(out, {"set": [score("bm25", results)]})
    left = sorted(p.name for p in out.iterdir() if p.suffix in (".jsonl", ".trec", ".txt"))
    assert left == [
        "failures-set-bm25.jsonl",
        "notes.txt",
        "qrels-set.trec",
        "results-set-bm25.jsonl",
        "run-set-bm25.trec",
    ]


def test_report_tables_show_the_new_metrics_and_languages():
    from rich.console import Group

    from eval.report import markdown_table, rich_table
    from eval.runner import score

    report = score("hybrid", [_result("1", "Siapa dia?", ["Dewa"], ["Dewa"])])
    text = markdown_table("set", [report])
    for name in ("success@1", "recall@10", "exact_match", "short_f1", "### set by language"):
        assert name in text
    assert "| hybrid id |" in text and "recall@1 " not in text
    assert isinstance(rich_table("set", [report]), Group)


def test_canonical_relevant_holds_only_retrievable_ids():
    from eval.runner import canonical_relevant

    kept = {"k1", "k2"}
    aliases = {"dup-of-k1": "k1"}

    def article(article_id):
        found = article_id if article_id in kept else aliases.get(article_id)
        return SimpleNamespace(id=found) if found else None

    store = SimpleNamespace(article=article, stories={})
    assert canonical_relevant(store, frozenset({"k1", "dup-of-k1", "gone"})) == {"k1"}
    assert canonical_relevant(store, frozenset({"dup-of-k1", "k2"})) == {"k1", "k2"}
    assert canonical_relevant(store, frozenset({"gone"})) == set()
    # k2 republished k1's story: both count as that story, found whichever copy is shown
    store.stories = {"k1": "k1", "k2": "k1"}
    assert canonical_relevant(store, frozenset({"k2"})) == {"k1"}
    assert canonical_relevant(store, frozenset({"k1", "k2"})) == {"k1"}


def _hit(article_id: str, text: str) -> SimpleNamespace:
    return SimpleNamespace(
        article_id=article_id, passages=[SimpleNamespace(chunk=SimpleNamespace(text=text))]
    )


def test_negative_results_withhold_the_relevant_articles():
    from eval.runner import add_negatives, negative_results, score

    calls = []

    def retrieve_batch(questions, k):
        calls.append(("retrieve", questions, k))
        return [[_hit(a, f"Teks artikel {a}.") for a in ("a", "b", "c")]]

    def answer_batch(questions, hits):
        calls.append(("answer", questions, [h.article_id for h in hits[0]]))
        return [SimpleNamespace(abstained=not hits[0])]

    store = SimpleNamespace(
        article=lambda i: SimpleNamespace(id=i) if i in {"a", "b", "c"} else None, stories={}
    )
    components = SimpleNamespace(
        store=store,
        retriever=SimpleNamespace(retrieve_batch=retrieve_batch),
        answerer=SimpleNamespace(answer_batch=answer_batch),
    )
    questions = [
        ReferenceQuestion(id="1", question="Siapa dia?", relevant=frozenset({"a"})),
        ReferenceQuestion(id="2", question="Who is he?", relevant=frozenset({"a", "b", "c"})),
        ReferenceQuestion(id="3", question="Apa itu?", relevant=frozenset({"a"}), answerable=False),
        ReferenceQuestion(id="4", question="Apa ini?", relevant=frozenset({"unknown"})),
        # "b", left after "a" is withheld, states the answer too: no negative
        ReferenceQuestion(
            id="5", question="Apa lagi?", relevant=frozenset({"a"}), answers=("artikel b",)
        ),
    ]
    shares = negative_results(components, questions, k=7)
    assert shares == {"all": 0.5, "en": 1.0, "id": 0.0}
    assert ("retrieve", ["Siapa dia?"], 7) in calls
    assert ("answer", ["Siapa dia?"], ["b", "c"]) in calls  # "a" withheld
    # questions 3 (unanswerable), 4 (nothing retrievable) and 5 (answered elsewhere) skipped
    assert [c[0] for c in calls].count("answer") == 2
    report = score("hybrid", [_result("1", "Siapa dia?", [], []), _result("2", "Who?", [], [])])
    add_negatives(report, shares)
    assert report.values["abstention_on_negatives"] == 0.5
    assert report.by_language["en"]["abstention_on_negatives"] == 1.0


def test_alternatives_are_not_a_list(tmp_path):
    """``"list": false`` (alternatives: "Harnojoyo" or "H. Harnojoyo") keeps a question out of
    list recall, and so does unset (the shared sets: ``answers`` are alternatives); ``"list":
    true`` puts even a one-answer question in."""
    from eval.questions import load_questions
    from eval.runner import QuestionResult, score

    rows = [
        {"id": "a", "question": "Siapa wali kota?", "answers": ["Harnojoyo", "H. Harnojoyo"]},
        {
            "id": "b",
            "question": "Siapa wali kota?",
            "answers": ["Harnojoyo", "H. Harnojoyo"],
            "list": False,
        },
        {"id": "c", "question": "Program apa saja?", "answers": ["Poltabes"], "list": True},
    ]
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    questions = load_questions(path)
    assert [q.asks_for_all for q in questions] == [False, False, True]
    results = [
        QuestionResult(q, ["x"], "jawaban", False, [], [], 10.0, set(), ["Harnojoyo"])
        for q in questions
    ]
    report = score("hybrid", results)
    assert report.scored["list_recall"] == 1 and report.values["list_recall"] == 0.0


def test_a_question_file_with_a_byte_order_mark_is_read_and_bad_bytes_are_named(tmp_path):
    from eval.questions import load_questions

    path = tmp_path / "q.jsonl"
    first = json.dumps({"id": "a", "question": "Siapa wali kota?", "answerable": False})
    path.write_bytes(b"\xef\xbb\xbf" + first.encode() + b"\n")
    [question] = load_questions(path)
    assert (question.id, question.answerable) == ("a", False)
    path.write_bytes(first.encode() + b'\n{"id": "b", "question": "Apa \xe9?"}\n')
    with pytest.raises(ValueError, match=r"q\.jsonl:2: not a reference question \('utf-8'"):
        load_questions(path)
    # CRLF line ends and blank lines are read as they are meant; extra fields are ignored
    second = {"id": "b", "question": "Apa?", "relevant": ["x"], "lang": "id", "evidence": "."}
    path.write_bytes(f"{first}\r\n\r\n  \r\n{json.dumps(second)}\r\n".encode())
    assert [q.id for q in load_questions(path)] == ["a", "b"]
    # UTF-16 (PowerShell's Out-File) was "'utf-8' codec can't decode byte 0xff in position 0"
    path.write_text(first + "\n", encoding="utf-16")
    with pytest.raises(ValueError, match=r"q\.jsonl:1: .*UTF-16, .* save the file as UTF-8"):
        load_questions(path)


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"id": "a", "question": "Lagi?"}, "q.jsonl:3: question id 'a' repeats line 1"),
        ({"id": "b", "question": "Apa?", "relevant": "nq-001"}, "'relevant' must be a list"),
        ({"id": "b", "question": "Apa?", "answers": [7]}, "'answers' must be a list of strings"),
        (  # a line cut short: where it ends, not at "line 2 column 1" of its line break
            '{"id": "b", "question": "Apa?"',
            "q.jsonl:3: not a reference question (Expecting ',' delimiter: line 1 column 31",
        ),
        # each of these was read as something else, or failed only after the whole run
        ({"id": "b", "question": "Apa?", "answerable": "false"}, "'answerable' must be true"),
        ({"id": "b", "question": "Apa?", "list": "no"}, "'list' must be true or false"),
        ({"id": "b", "question": None}, "'question' must be a non-blank string"),
        ({"id": "b", "question": "  "}, "'question' must be a non-blank string"),
        (  # --url sent its first 1,000 characters, in-process eval all of them
            {"id": "b", "question": " " + "apa " * 250 + "?"},
            "'question' has 1001 characters; POST /ask takes at most 1000",
        ),
        ({"id": "q 1", "question": "Apa?"}, "q.jsonl:3: not a reference question (id 'q 1'"),
        ('{"id": "b", "question": ' + "[" * 3000, "q.jsonl:3: not a reference question (nested"),
        # a misspelt field was ignored: the question left every retrieval (answer) figure
        (
            {"id": "b", "question": "Apa?", "relevent": ["nq-001"]},
            "q.jsonl:3: not a reference question (field 'relevent' is no reference-question "
            "field: 'relevant'?)",
        ),
        ({"id": "b", "question": "Apa?", "answer": ["x"]}, "field 'answer' is no reference-"),
        # said as Python's own words: "('id')", "list indices must be integers or slices"
        ({"question": "Apa?"}, "q.jsonl:3: not a reference question (no 'id' field)"),
        ('[{"id": "b", "question": "Apa?"}]', "(a line must be a JSON object, not [{"),
    ],
)
def test_a_question_file_that_would_be_misread_is_an_error(tmp_path, second, message):
    """A repeated id would merge two questions in the TREC run and the per-question results;
    a bare string for ``relevant`` would be read as its letters. Both name file and line."""
    from eval.questions import load_questions

    path = tmp_path / "q.jsonl"
    first = {"id": "a", "question": "Siapa wali kota?", "relevant": ["nq-001"]}
    line = second if isinstance(second, str) else json.dumps(second)
    path.write_text(f"{json.dumps(first)}\n\n{line}\n")
    with pytest.raises(ValueError, match=re.escape(message)):
        load_questions(path)
