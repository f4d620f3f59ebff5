"""Which outlet reported a story (``service.news_layout.outlet_question``, ``service.outlets``):
the questions told from questions about media as a topic, an article's outlet read from its
source, dateline or URL, and answers over a real index of the seed page and a story three
outlets carried."""

from __future__ import annotations

import pytest

from indexer.documents import Article
from service.news_layout import outlet_question
from service.outlets import outlet_of
from service.routes.responses import ask_response

# One report on Jasa Marga's charging stations as three outlets carried it: Kabar Nusantara
# (its source field, and its dateline), Sumselupdate.com (dateline only) and detik (URL only).
EV_BODY = (
    "PT Jasa Marga (Persero) Tbk menambah stasiun pengisian kendaraan listrik umum (SPKLU) di "
    "rest area jalan tol Trans Jawa menjelang libur akhir tahun. Direktur Utama Jasa Marga "
    "Rivan Purwantono mengatakan 24 unit SPKLU baru akan beroperasi di 12 rest area mulai "
    "pekan depan, sehingga pengemudi mobil listrik tidak perlu khawatir kehabisan daya saat "
    "mudik.\n\nMenurut Rivan, pembangunan SPKLU itu bekerja sama dengan PLN dan sejumlah "
    "operator swasta. Setiap rest area akan memiliki dua unit pengisian cepat berdaya 50 "
    "kilowatt yang dapat mengisi baterai hingga 80 persen dalam waktu sekitar 40 menit. Jasa "
    "Marga juga menyiapkan petugas yang berjaga selama 24 jam untuk membantu pengguna jalan."
    "\n\nJumlah kendaraan listrik yang melintas di tol Trans Jawa terus meningkat. Pada libur "
    "Lebaran lalu tercatat lebih dari 5.000 mobil listrik melintas, naik dua kali lipat "
    "dibanding tahun sebelumnya, kata Rivan."
)
ARTICLES = [
    {
        "id": "ev-kabar",
        "title": "Jasa Marga Tambah 24 SPKLU di Rest Area Tol Trans Jawa",
        "url": "https://kabarnusantara.example/ekonomi/jasa-marga-spklu",
        "published": "2025-12-10T09:00:00+07:00",
        "source": "Kabar Nusantara",
        "text": f"Jakarta, Kabar Nusantara – {EV_BODY}\n\nBaca juga: Harga BBM turun",
    },
    {
        "id": "ev-sumsel",
        "title": "Jelang Libur Akhir Tahun, SPKLU Jasa Marga Bertambah",
        "url": "https://sumselupdate.example/2025/12/10/spklu-jasa-marga",
        "published": "2025-12-10T11:30:00+07:00",
        "text": f"Palembang, Sumselupdate.com – {EV_BODY}\n\nAdvertisements\n\nPos terkait",
    },
    {
        "id": "ev-detik",
        "title": "Mudik Naik Mobil Listrik? Jasa Marga Siapkan 24 SPKLU Baru",
        "url": "https://oto.detik.com/berita/d-8200001/jasa-marga-siapkan-24-spklu-baru",
        "published": "2025-12-10T13:05:00+07:00",
        "text": f"{EV_BODY}\n\nSCROLL TO CONTINUE WITH CONTENT\n\nSimak juga Video mobil listrik",
    },
    {  # no source, URL or dateline: nothing says its outlet
        "id": "kebun-raya",
        "title": "Kebun Raya Baru Dibuka di Kabupaten Sigi",
        "text": (
            "Kebun Raya Sigi resmi dibuka untuk umum pada Sabtu pagi. Kebun seluas 80 hektare "
            "itu menyimpan lebih dari 1.200 jenis tumbuhan endemik Sulawesi, kata Kepala Kebun "
            "Raya Sigi, Nurhayati Lamasi."
        ),
    },
    {
        "id": "medan-banjir",
        "title": "Banjir Rendam Dua Kecamatan di Medan",
        "url": "https://waspada.example/banjir-medan",
        "published": "2025-12-09T08:00:00+07:00",
        "text": (
            "Medan, Waspada.id – Banjir merendam dua kecamatan di Kota Medan setelah hujan deras "
            "mengguyur sejak Senin malam. Ketinggian air mencapai satu meter di Medan Maimun "
            "dan Medan Johor. Wali Kota Medan Rico Waas meminta warga di bantaran Sungai Deli "
            "mengungsi ke posko yang disiapkan pemerintah kota."
        ),
    },
]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("which news site reported Palembang's innovation awards", "one"),
        ("berita penghargaan Poltabes dan Pangling dimuat media apa", "one"),
        ("situs berita apa yang memuat berita banjir Medan", "one"),
        ("diberitakan oleh siapa berita banjir Medan", "one"),
        ("which newspaper published the story on the Medan flood", "one"),
        ("the Medan flood was reported by which site", "one"),
        ("which outlets covered the Jasa Marga EV stations", "list"),
        ("media mana saja yang memberitakan SPKLU Jasa Marga", "list"),
        ("media apa saja yang memberitakan penghargaan Poltabes", "list"),
        # media as a topic, or a word that also means "report" elsewhere
        ("which media law was passed in 2020", None),
        ("media sosial apa yang paling banyak dipakai pelajar", None),
        ("portal apa yang diluncurkan Pemkot Palembang", None),
        ("which site was the landfill built on", None),
        ("siapa yang melaporkan kasus itu ke polisi", None),
        ("where was the explosion reported", None),
        ("what did the report say about inflation", None),
        ("media apa yang digunakan untuk kampanye", None),
        (
            "Which news outlet does HM, the journalist reported by the regent's wife, work for?",
            None,
        ),
        ("which Palembang programs won 2020 awards", None),
        # an outlet the story names as an actor: its editorial, a journalist's employer
        ("surat kabar manakah yang dalam editorialnya menyatakan inflasi akan turun", None),
        ("which newspaper wrote that the minister should resign", None),
        ("Ia memulai karier sebagai wartawan koran apa?", None),
    ],
)
def test_outlet_questions_are_told_from_questions_about_media(question, kind):
    assert outlet_question(question) == kind


def test_an_articles_outlet_is_its_source_then_its_dateline_then_its_site():
    def outlet(text: str, source: str | None = None, url: str | None = None):
        found = outlet_of(Article(id="a", text=text, source=source, url=url))
        if found is None:
            return None
        return found.name, None if found.span is None else text[found.span[0] : found.span[1]]

    body = "Harga cabai naik di pasar tradisional."
    assert outlet(f"KOMPAS.com - {body}") == ("KOMPAS.com", "KOMPAS.com")
    assert outlet(f"Jakarta, CNN Indonesia -- {body}") == ("CNN Indonesia", "CNN Indonesia")
    assert outlet(f"Liputan6.com, Jakarta - {body}") == ("Liputan6.com", "Liputan6.com")
    # the source field names the outlet; its dateline says it in other letters
    assert outlet(f"JAKARTA, KOMPAS.com - {body}", "Kompas") == ("Kompas", "KOMPAS.com")
    # a source the text never names: metadata only, no span
    assert outlet(f"Jakarta, Sumselupdate.com – {body}", "Harian Pagi") == ("Harian Pagi", None)
    assert outlet(body, url="https://news.detik.com/berita/d-1/x") == ("detik.com", None)
    assert outlet(f"JAKARTA - {body}") is None  # a place alone is no outlet


@pytest.fixture(scope="module")
def idx(tmp_path_factory, settings, shared_dir):
    """A real index of the seed page and the articles above."""
    from conftest import write_jsonl

    from newsqa.api import Index

    folder = tmp_path_factory.mktemp("outlets")
    articles = write_jsonl(folder / "articles.jsonl", ARTICLES)
    seed = shared_dir / "data" / "news" / "palembang-awards-2020.txt"
    with Index.build([articles, seed], folder / "index", settings) as index:
        yield index


def _check_spans(idx, answer) -> None:
    """Every short answer is a span of its article and of the quote that cites it."""
    quotes = {c.n: c for c in answer.citations}
    for s in answer.short_answers:
        text = idx.article(s.article_id).text
        assert text[s.char_start : s.char_end] == s.text
        c = quotes[s.n]
        assert c.article_id == s.article_id and c.char_start <= s.char_start < c.char_end
    for c in answer.citations:
        assert idx.article(c.article_id).text[c.char_start : c.char_end] == c.quote
    ask_response(idx.store, answer)  # the HTTP body takes it as it is


@pytest.mark.parametrize(
    "question",
    [
        "which news site reported Palembang's innovation awards",
        "berita penghargaan Poltabes dan Pangling dimuat media apa",
    ],
)
def test_the_seed_pages_outlet_is_its_dateline(idx, question):
    answer = idx.ask(question)
    assert not answer.abstained
    assert [s.text for s in answer.short_answers] == ["Sumselupdate.com"], answer.answer
    assert answer.short_answers[0].article_id == "palembang-awards-2020"
    assert answer.answer == "Sumselupdate.com [1]"
    assert answer.citations[0].quote.startswith("Jakarta, Sumselupdate.com – Pemerintah Kota")
    _check_spans(idx, answer)


@pytest.mark.parametrize(
    "question",
    [
        "which outlets covered the Jasa Marga EV charging stations",
        "media apa saja yang memberitakan SPKLU Jasa Marga di rest area",
    ],
)
def test_which_outlets_names_each_copy_of_the_story_with_its_citation(idx, question):
    answer = idx.ask(question)
    cited = {c.article_id for c in answer.citations}
    assert cited == {"ev-kabar", "ev-sumsel", "ev-detik"}, answer.answer
    for name in ("Kabar Nusantara", "Sumselupdate.com", "detik.com"):
        assert name in answer.answer
    # the text names two of them in its dateline; detik only in its URL: no short answer
    assert {s.text for s in answer.short_answers} == {"Kabar Nusantara", "Sumselupdate.com"}
    assert "Medan" not in answer.answer
    _check_spans(idx, answer)
    # every article listed (collapse=false): the same outlets, from the hits of the story
    flat = idx.ask(question, collapse=False)
    assert {c.article_id for c in flat.citations} == cited


def test_one_outlet_for_a_singular_question_and_none_for_a_story_not_there(idx):
    answer = idx.ask("situs berita apa yang memuat berita banjir di Medan")
    assert [s.text for s in answer.short_answers] == ["Waspada.id"]
    _check_spans(idx, answer)
    assert idx.ask("which news site reported the Surabaya marathon").abstained


def test_questions_about_media_as_a_topic_are_left_to_the_reader(idx):
    answer = idx.ask("berapa unit SPKLU baru yang disiapkan Jasa Marga")
    assert "Kabar Nusantara" not in (answer.answer or "")
    assert all(s.text != "Sumselupdate.com" for s in answer.short_answers)


def test_a_story_with_no_known_outlet_is_left_to_the_reader(idx):
    answer = idx.ask("media apa yang memberitakan pembukaan Kebun Raya Sigi")
    assert "outlets" not in answer.timings_ms  # the reader's answer, whatever it is
    assert all(c.article_id == "kebun-raya" for c in answer.citations)
