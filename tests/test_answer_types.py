"""Question kinds and span kinds, English and Indonesian (``service.answer_types``), and the
question language (``indexer.language``)."""

from __future__ import annotations

import pytest

from indexer.language import question_language, text_language
from service.answer_types import (
    asked_role,
    asked_thing,
    asks_for_named_person,
    asks_yes_no,
    counted_thing,
    counts_of_asked_thing,
    mentions_any,
    mentions_thing,
    named_as_thing,
    names_a_person,
    question_names,
    question_type,
    restates_question,
    role_before,
    says_all_of,
    span_fits,
)


@pytest.mark.parametrize(
    ("question", "kind", "is_list"),
    [
        ("which Palembang programs won 2020 awards", "other", True),
        ("program apa saja yang menang penghargaan", "other", True),
        ("siapa saja yang menerima penghargaan itu", "person", True),
        ("siapa wali kota Palembang", "person", False),
        ("who handed over the award", "person", False),
        ("which minister presented the awards", "person", False),
        # a count or a plural between the question word and the person it asks for
        ("which two suspects were arrested", "person", True),
        ("Which authors are cited in the column?", "person", True),
        ("which regional heads met the minister", "person", True),
        ("Who are the five students on trial?", "person", True),  # a plural verb
        ("who was the judge", "person", False),
        ("which menu did the school serve", "other", False),
        ("kapan penghargaan diserahkan", "date", False),
        ("tahun berapa Ampera dibangun", "date", False),  # a year, not a quantity
        ("what year was the bridge built", "date", False),
        ("berapa anggaran perbaikan jembatan", "quantity", False),
        ("how many awards did the city win", "quantity", False),
        ("di mana upacara berlangsung", "place", False),
        ("where was the ceremony held", "place", False),
        ("in which city was the ceremony held", "place", False),
        ("what does Poltabes stand for", "other", False),
        ("Which BPJS Watch official argued against it?", "other", False),  # an acronym
        ("In which US state did he admit it?", "other", False),
    ],
)
def test_question_type(question: str, kind: str, is_list: bool) -> None:
    asked = question_type(question)
    assert (asked.kind, asked.is_list) == (kind, is_list)


@pytest.mark.parametrize(
    ("kind", "span", "fits"),
    [
        ("quantity", "Rp 8,7 miliar", True),
        ("quantity", "dua", True),
        ("quantity", "Walikota Palembang", False),
        ("date", "Rabu (25/11/2020)", True),
        ("date", "November", True),
        ("date", "tahun lalu", True),
        ("date", "Gedung Tribrata", False),
        ("person", "H. Harnojoyo", True),
        ("person", "menteri", False),
        ("person", "Pemerintah Kota", False),  # an institution, not a person
        # a clause that counts people names none of them
        ("person", "Ditressiber Polda Sumut menangkap empat pelaku", False),
        ("person", "Muhammad Syaripuddin Lubis (25)", True),
        ("place", "Jakarta Selatan", True),
        ("place", "di gedung itu", False),
        ("other", "anything at all", True),
        # a span that runs on past the fact is longer than answers of its kind are
        ("quantity", "31 puskesmas", True),
        ("quantity", "31 puskesmas, enam rumah sakit, dan gerai vaksin di sebuah pusat", False),
        ("place", "Jerman, melaporkan penemuan planet di luar tata surya pada hari Rabu", False),
        ("other", "a reason may take a whole clause to give, and more words than that", True),
    ],
)
def test_span_fits(kind: str, span: str, fits: bool) -> None:
    assert span_fits(kind, span) is fits  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Which Palembang programs won 2020 awards?", "en"),
        ("Pangling is short for what", "en"),  # starts with a name
        ("Apa itu Top 21 Public Service?", "id"),  # English name inside
        ("siapa wali kota Palembang", "id"),
        ("Poltabes", "id"),  # nothing to tell by: the corpus language
    ],
)
def test_question_language(question: str, language: str) -> None:
    assert question_language(question) == language


def test_text_language() -> None:
    assert text_language(["Wali kota itu mengatakan bahwa program ini untuk anak."]) == "id"
    assert text_language(["The mayor said that the program is for the children."]) == "en"
    assert text_language(["Poltabes, Pangling"]) is None


def test_question_names_are_looked_for_in_the_evidence() -> None:
    names = question_names("Who won the 1994 FIFA World Cup final in Pasadena?")
    assert names == {"fifa", "world", "cup", "pasadena", "1994"}
    assert not mentions_any(names, "Bromo Putra FC menjuarai Liga 3 Jawa Timur 2023.")
    assert mentions_any(question_names("Pangling is short for what"), "Inovasi (Pangling).")
    assert mentions_any(set(), "anything")  # a question that names nothing: nothing to check


@pytest.mark.parametrize(
    ("question", "article"),
    [
        # places and peoples change their names between English and Indonesian
        ("How many suspects are there in the East Java grant case?", "hibah Pemprov Jawa Timur"),
        ("Who is the French environment minister?", "Menteri Lingkungan Prancis"),
        ("How many Russians were questioned?", "dua warga negara Rusia"),
        ("How long could the Canadian tourist be jailed?", "turis Kanada itu"),
        ("How many delegates met in Switzerland?", "delegasi di Jenewa, Swiss"),
        ("Which navy ship sailed to Sumatra?", "KRI Radjiman ke Sumatera Barat"),
        ("What did the UN say?", "kata juru bicara PBB"),
        ("In which US state was it?", "di negara bagian Kentucky, AS"),
    ],
)
def test_english_place_names_are_found_in_indonesian(question: str, article: str) -> None:
    names = question_names(question)
    assert mentions_any(names, article)
    assert not mentions_any(names, "Kejadian di Sulawesi Selatan, menurut wali kota.")


def test_only_names_are_translated() -> None:
    # "us" is a pronoun, "Gas" no plural of the Ga language, "Jawa Timur" is already Indonesian
    assert question_names("what did they tell us") == set()
    assert question_names("Kapan PT Perusahaan Gas Negara menaikkan harga?") == {
        "pt",
        "perusahaan",
        "gas",
        "negara",
    }
    assert question_names("Siapa Gubernur Jawa Timur?") == {"gubernur", "jawa", "timur"}


@pytest.mark.parametrize(
    ("question", "names"),
    [
        # a common word starting the question is no name the evidence must repeat
        ("Binatang apa yang menyebarkan penyakit demam berdarah?", set()),
        ("Dimanakah letak Taman Nasional Sebangau?", {"taman", "nasional", "sebangau"}),
        ("According to BPS, what was the poverty rate in 2024?", {"bps", "2024"}),
        ("Badan apakah yang memantau topan?", set()),
        # a name or an acronym starting it stays one
        ("Pangling is short for what", {"pangling"}),
        ("KPK menahan siapa?", {"kpk"}),
    ],
)
def test_first_word_is_a_name_only_when_no_common_word(question: str, names: set[str]) -> None:
    assert question_names(question) == names


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        # the question word that comes first is the ask, not one in a later clause
        ("Who chaired the meeting where the budget of how many billions was set?", "person"),
        ("Which nickname did the coach give the striker when he scored?", "other"),
        ("Apa sebutan warga untuk pasar itu ketika banjir datang?", "other"),
        ("In what year did the bridge open?", "date"),
        ("Pada tahun berapakah jembatan itu dibuka?", "date"),
        ("Di kabupaten manakah tambang itu berada?", "place"),
    ],
)
def test_the_first_question_word_decides(question: str, kind: str) -> None:
    assert question_type(question).kind == kind


@pytest.mark.parametrize(
    ("question", "unit", "right", "wrong"),
    [
        ("How old was the mayor when he took office?", "age", "54 tahun", "70 persen"),
        ("dalam berapa hari pelaku harus ditangkap", "duration", "tiga hari", "17/10/2025"),
        ("How many years in prison did the court give him?", "duration", "5 tahun", "2023"),
        ("Berapa persen suara yang ia raih?", "percent", "52,3%", "1.200 suara"),
        ("How much money did the city set aside for the program?", "money", "Rp 4,5 miliar", "12"),
        ("Berapa ton beras yang diimpor?", "tons", "3.000 ton", "3.000 kilogram"),
        (
            "How many households were hit by the flooding?",
            "count",
            "650 kepala keluarga",
            "2,5 meter",
        ),
        ("berapa korban tewas dalam kecelakaan itu", "count", "12 orang", "Rp 50 juta"),
        ("How many students are enrolled in the class?", "count", "36 siswa", "48 persen"),
        ("How many kitchens were shut down?", "count", "112 dapur", "2 pagi"),
        ("Berapa kali dalam setahun kulminasi terjadi?", "times", "dua kali", "21-23 Maret"),
        ("How many times a week did he ask for it?", "times", "dua kali seminggu", "3.000 warga"),
        ("undang berapa orang setelah anggaran dipangkas", "count", "200 orang", "Rp 1 miliar"),
        ("Berapa persenkah saham yang dipegang investor asing?", "percent", "40 persen", "2005"),
        ("What net profit did the toll road operator record?", "money", "Rp 2,1 triliun", "111"),
        ("What net profit did it record?", "money", "2,1 triliun", "111 juta angkutan logistik"),
        ("How much did a kilogram of chilli cost?", "money", "90.000", "1 kilogram"),
        ("What prison sentence do the suspects face?", "duration", "5 tahun penjara", "empat"),
        ("How long does the drive to the new capital take?", "duration", "60 menit", "47 km"),
        ("How long is the sea wall?", "length or duration", "10,6 kilometer", "2.000"),
        ("How large is the plot of land proposed for the school?", "area", "2 hektare", "75"),
        ("Berapa luas Danau Kerinci?", "area", "4.200 hektar", "1.000 meter"),
        ("How tall is the new tower?", "length", "451,9 meter", "88 lantai"),
        ("Berapa ketinggian gunung itu?", "length", "2.469 mdpl", "2.469"),
        # a share or a ratio, even after a money word ("deposit ratio")
        ("What share of the budget goes to schools?", "share", "20 persen", "Rp 3 triliun"),
        ("What loan to deposit ratio did the bank report?", "share", "91,2%", "Rp 8,9 triliun"),
        ("berapa rasio guru dan murid di desa itu", "share", "1:30", "30 guru"),
    ],
)
def test_a_quantity_is_answered_in_the_unit_asked_for(
    question: str, unit: str, right: str, wrong: str
) -> None:
    asked = question_type(question)
    assert (asked.kind, asked.unit) == ("quantity", unit)
    assert span_fits("quantity", right, asked.unit)
    assert not span_fits("quantity", wrong, asked.unit)


def test_chat_spellings_of_question_words_are_read() -> None:
    # "brp" is "berapa", "tgl" "tanggal"; "anggaran berapa persen" asks a percentage
    assert question_type("brp rumah yg kerendam di kampung itu").unit == "count"
    assert question_type("rapat paripurna digelar tgl brp?").kind == "date"
    assert question_type("kpk udah nyerap anggaran brp persen").unit == "percent"


def test_an_ordinal_or_a_value_asks_for_no_unit() -> None:
    # "ulang tahun ke berapa" wants "60", not a duration; "penurunan nilai" a percentage
    assert question_type("Ulang tahun Republik Indonesia ke berapakah tahun ini?").unit is None
    assert question_type("Berapakah penurunan nilai ekspor selama kuota?").unit is None


def test_only_a_count_asks_for_people_or_things() -> None:
    # measures and money are asked in their own words, not as a count
    assert question_type("How many tons of rice were imported?").unit == "tons"
    assert question_type("How many funds were allocated for the temple?").unit is None
    assert question_type("Berapa jumlah kayu ilegal yang disita?").unit is None
    assert span_fits("quantity", "118 dari 122 anggota", "count")


def test_a_bare_date_counts_nothing() -> None:
    assert not span_fits("quantity", "(20/10/2025)")
    assert not span_fits("quantity", "6 Januari 2010")
    assert span_fits("quantity", "118 dari 122 anggota")
    assert span_fits("date", "6 Januari 2010")


def test_a_number_in_a_name_or_a_named_year_counts_nothing() -> None:
    # "how many innovations did Palembang submit" was answered with "Covid-19"; "berapa tahun
    # lamanya" with "tahun 1980"
    assert not span_fits("quantity", "Covid-19")
    assert not span_fits("quantity", "Penghargaan Top Inovasi Tahun 2020, Penanganan Covid-19")
    assert not span_fits("quantity", "tahun 1980", "duration")
    assert span_fits("quantity", "2 pasien Covid-19")
    assert span_fits("quantity", "25 tahun", "duration")
    assert span_fits("quantity", "ulang tahun ke-20")  # an ordinal still counts
    assert span_fits("quantity", "2000 personel")  # a count, not a year
    assert span_fits("date", "tahun 1980")
    # a year that ends a name: "berapa besar hadiah" is not "Penghargaan Achmad Bakrie 2005"
    assert not span_fits("quantity", "Penghargaan Achmad Bakrie 2005")
    assert span_fits("quantity", "Sekitar 2000 warga")
    assert span_fits("quantity", "hadiah Rp 2000", "money")


@pytest.mark.parametrize(
    ("question", "unit", "right", "wrong"),
    [
        ("Jam berapa rapat paripurna DPRD dimulai?", "clock", "pukul 09.30 WIB", "25/11"),
        ("At what time did the train leave Kertapati?", "clock", "14:15", "Rabu (25/11/2020)"),
        ("pukul berapa banjir mulai surut", "clock", "dini hari", "2 pekan"),
        ("Jam berapa saja perbaikan dikerjakan?", "clock", "jam 22.00 hingga 04.00", "dua jam"),
        ("Pada hari apa sidang putusan kasus itu digelar?", "weekday", "Kamis", "12/3/2024"),
        ("What day of the week did the flood reach Kemang?", "weekday", "Senin pagi", "3 Maret"),
        ("Sidang berikutnya dijadwalkan hari apakah?", "weekday", "Jumat (14/3)", "pekan depan"),
        ("Tahun berapakah buku itu diterbitkan?", "year", "1998", "18/8"),
        ("In what year was the temple built?", "year", "sekitar tahun 809", "Mei"),
        ("Pada pertemuan tahun berapa ia melaporkan penemuannya?", "year", "APRIM 2005", "28/7"),
    ],
)
def test_a_date_is_answered_in_the_unit_asked_for(
    question: str, unit: str, right: str, wrong: str
) -> None:
    asked = question_type(question)
    assert (asked.kind, asked.unit) == ("date", unit)
    assert span_fits("date", right, asked.unit)
    assert not span_fits("date", wrong, asked.unit)


def test_a_plain_when_or_a_named_day_asks_for_any_date() -> None:
    assert question_type("Kapan rapat paripurna DPRD digelar?").unit is None
    # a named day is asked for, not a weekday
    assert question_type("Hari apa yang diperingati setiap 10 November?").unit is None


def test_a_duration_dates_nothing() -> None:
    assert not span_fits("date", "30 tahun")
    assert not span_fits("date", "sekitar dua puluh tahun")
    assert span_fits("date", "dua tahun lalu")
    assert span_fits("date", "15 Agustus 2005")


@pytest.mark.parametrize(
    ("question", "level", "right", "wrong"),
    [
        ("Di provinsi manakah lokasi Danau Tamblingan?", "province", "Bali", "Kabupaten Tabanan"),
        ("Desa apakah yang harus tergusur?", "village", "Desa Sidodadi", "Kabupaten Deli Serdang"),
        ("In which regency is the temple?", "regency", "Kabupaten Magelang", "Kota Yogyakarta"),
        ("which city hosted the games", "city", "Kota Palembang", "Provinsi Sumatera Selatan"),
        ("Apakah ibukota dari Kabupaten Merangin?", "city", "Bangko", "Provinsi Jambi"),
        ("Berada di propinsi mana Kota Makassar itu?", "province", "Sulawesi Selatan", "Kota X"),
        # an institution whose name says what it is
        ("which ministry gave Palembang the awards", "ministry", "Kementerian PANRB", "Ratu Dewa"),
        ("Which new coordinating ministry was set up?", "ministry", "Kemenko PM", "Kabinet Baru"),
        ("penghargaan itu diberikan kementerian apa", "ministry", "Ministry of Health", "Menteri"),
        ("Which university is the student at?", "university", "Universitas Riau", "LBH Pekanbaru"),
        ("dosen itu mengajar di universitas mana", "university", "UGM", "Fakultas Hukum"),
        ("Universitas manakah yang dia pimpin?", "university", "Universite de Lyon", "Lyon"),
    ],
)
def test_a_place_or_institution_is_answered_at_the_level_asked_for(
    question: str, level: str, right: str, wrong: str
) -> None:
    asked = question_type(question)
    assert asked.unit == level
    assert span_fits(asked.kind, right, asked.unit)
    assert not span_fits(asked.kind, wrong, asked.unit)
    # a question that names no level takes any
    assert span_fits("place", wrong, question_type("Di mana danau itu terletak?").unit)


def test_an_institution_word_that_is_not_asked_for_sets_no_unit() -> None:
    assert question_type("Which regulation requires universities to act?").unit is None
    assert question_type("What is the ministry doing about it?").unit is None


@pytest.mark.parametrize(
    ("question", "span", "restates"),
    [
        # what was won, not what won: "awards" is "penghargaan" in the lexicon
        ("which Palembang programs won 2020 awards", "penghargaan inovasi pelayanan publik", True),
        ("which Palembang programs won 2020 awards", "Poltabes dan Pangling", False),
        ("program apa saja yang meraih penghargaan", "penghargaan inovasi", True),
        # the noun asked for may head the answer, before or after the question word
        ("program apa saja yang meraih penghargaan", "program inovasi daerah", False),
        ("apa nama penghargaan yang diraih kota itu", "penghargaan emas", False),
        ("what kind of programme won the award", "program pendampingan anak", False),
        # a name or a number is never a restatement
        ("which sub-district was proposed as the site", "Kecamatan Jenawi", False),
        ("berapa kabupaten yang ikut pemilihan", "415 kabupaten", False),
        ("berapa kabupaten yang ikut pemilihan", "tiga kabupaten", False),
        ("siapa yang menerima penghargaan", "wali kota", False),
    ],
)
def test_a_span_that_restates_the_question_is_no_answer(
    question: str, span: str, restates: bool
) -> None:
    assert restates_question(question, span) is restates


def test_a_who_question_about_an_office_is_answered_by_its_holder() -> None:
    assert asked_role("siapa menteri yang menyerahkan penghargaan") == "minister"
    assert asked_role("Who is the acting president director of the hospital?") == "director"
    assert asked_role("which minister presented the awards") == "minister"
    assert asked_role("siapa yang menerima penghargaan") is None
    text = (
        "Penghargaan diserahkan oleh Menteri Pendayagunaan Aparatur Negara dan Reformasi "
        "Birokrasi Tjahjo Kumolo, yang diterima Walikota Palembang H. Harnojoyo. Kata Ratu Dewa."
    )
    assert role_before(text, text.index("Tjahjo")) == "minister"
    assert role_before(text, text.index("H. Harnojoyo")) == "mayor"
    assert role_before(text, text.index("Ratu Dewa")) is None  # titles stop at the sentence


def test_a_deputy_is_another_office_than_the_one_he_deputises_for() -> None:
    assert asked_role("siapa wakil wali kota Lubuklinggau") == "deputy mayor"
    assert asked_role("Who is Lubuklinggau's deputy mayor?") == "deputy mayor"
    assert asked_role("Siapa Wamen PU yang hadir?") == "deputy minister"
    assert asked_role("who is Indonesia's Minister of Tourism") == "minister"
    assert asked_role("siapa wali kota Lubuklinggau") == "mayor"
    text = (
        "Acara dibuka Wakil Wali Kota Lubuklinggau, Rustam Effendi, bersama Wali Kota "
        "Lubuklinggau Yoppy Karim. Hadir pula Wamen PU Diana Kusumastuti."
    )
    assert role_before(text, text.index("Rustam")) == "deputy mayor"
    assert role_before(text, text.index("Yoppy")) == "mayor"
    assert role_before(text, text.index("Diana")) == "deputy minister"


def test_a_head_of_office_is_an_office_too() -> None:
    assert asked_role("Who is the head of the Lubuklinggau statistics bureau?") == "head"
    assert asked_role("Who chairs the Lubuklinggau regional council?") == "chair"
    assert asked_role("who headed the search team") == "head"
    assert asked_role("who leads the search team") is None  # "leads": a chair, a head, ...
    text = "Kata Kepala Dinas PUPR Sumsel Rudi Hartono, Menteri PU Dody Hanggodo meninjau jalan."
    assert role_before(text, text.index("Rudi")) == "head"  # no answer to "who is the minister"
    assert role_before(text, text.index("Dody")) == "minister"


@pytest.mark.parametrize(
    ("question", "span", "thing"),
    [
        ("How many provinces reached the target this year?", "31 provinsi", "asked"),
        ("How many provinces reached the target this year?", "361 kabupaten", "other"),
        ("Berapa provinsi yang mencapai target?", "tiga puluh satu provinsi", "asked"),
        ("How many bedrooms does the new house have?", "tujuh kamar tidur", "asked"),
        ("How many bedrooms does the new house have?", "tiga gazebo", "other"),
        ("Berapa orang yang tewas dalam kecelakaan bus itu?", "12 penumpang", "people"),
        ("Berapa anak balita yang dirawat?", "35 orang", "people"),
        ("How many families will receive the aid?", "35,04 juta", None),  # names nothing
        ("How many families will receive the aid?", "sekitar 400 ribu", None),
    ],
)
def test_a_count_counts_the_thing_asked_or_another(question, span, thing) -> None:
    assert counted_thing(question, span) == thing


@pytest.mark.parametrize(
    ("question", "span", "named"),
    [
        ("Di masjid mana pasar murah digelar?", "Masjid Istiqomah", True),
        ("Di masjid mana pasar murah digelar?", "Jalan KH Ahmad Dahlan", False),
        ("Departemen apakah yang dipimpin Andung?", "Departemen Perindustrian", True),
        ("Which faculty does the activist study at?", "Fakultas Pertanian", True),
        ("Which faculty does the activist study at?", "Universitas Riau", False),
        ("Penghargaan apakah yang diterima peneliti itu?", "Penghargaan ilmu pengetahuan", False),
        ("Penghargaan apakah yang diterima peneliti itu?", "penghargaan Habibie", False),
        ("Which party's faction does he lead?", "Fraksi, Mamat menegaskan", False),
    ],
)
def test_a_which_question_names_the_thing_its_answer_is(question, span, named) -> None:
    assert named_as_thing(asked_thing(question), span) is named


def test_questions_that_name_no_thing() -> None:
    assert asked_thing("What did the minister say about the budget?") == frozenset()
    assert asked_thing("Hutan mangrove penting untuk apa?") == frozenset()
    # names are skipped: the thing is the official, whatever town
    assert asked_thing("Which Bandung official opened it?") == asked_thing("which official opened")
    assert asked_thing("Which coordinating minister witnessed the signing?") == frozenset()
    assert mentions_thing(asked_thing("which bus terminal"), "terminal bus di Bandung")


def test_the_unit_right_after_a_span_is_part_of_its_quantity() -> None:
    """The reader's span may stop before the number's unit: "5,44" of "5,44% penduduk" is a
    share, no answer to "how many people"; "111 juta" of "111 juta angkutan logistik" counts
    vehicles, no amount of money. A count's own noun, a currency or a word that does not count
    ("untuk", "per") after it keeps the span."""
    assert not span_fits("quantity", "5,44", "count", "% penduduk Indonesia")
    assert not span_fits("quantity", "1.117", "count", " meter panjangnya")
    assert span_fits("quantity", "75", "count", " siswa dan")
    assert span_fits("quantity", "23,85 juta orang", "count", " per Maret")
    assert not span_fits("quantity", "lebih dari 111 juta", "money", " angkutan logistik")
    assert span_fits("quantity", "Rp 1,3 miliar", "money", " untuk dapur")
    assert span_fits("quantity", "1,3 miliar", "money", " untuk dapur")
    assert span_fits("quantity", "90.000", "money", " per orang")


def test_a_why_question_is_not_answered_with_a_name_alone() -> None:
    """ "mengapa Nikita Mirzani menangis" was answered "Mail Syahputra": a cause is said in
    words; a name or a number alone is no reason."""
    for question in ("mengapa Nikita Mirzani menangis", "Why did she cry in court?"):
        asked = question_type(question)
        assert (asked.kind, asked.unit) == ("other", "reason")
        assert not span_fits(asked.kind, "Mail Syahputra", asked.unit)
        assert not span_fits(asked.kind, "(25)", asked.unit)
        assert span_fits(asked.kind, "tak memenuhi kewajiban jaminan reklamasi", asked.unit)
        assert span_fits(asked.kind, "belum memiliki rekening", asked.unit)
    # asked inside a title or after another question word, "why" asks for nothing
    assert question_type('Siapakah penulis buku "50 Alasan Mengapa Anwar ..."').unit is None


def test_an_office_or_a_way_is_not_answered_with_a_date() -> None:
    """ "What position does ... Supangat hold" was answered "17 Agustus 1945" (of "Universitas
    17 Agustus 1945"), "pencairan bansos ... lewat mana aja" "minggu depan": an office, a role
    or the way something goes is said in words, never as a date, a time or a bare number."""
    for question in (
        "What position does Untag Surabaya IT expert Supangat hold at the foundation?",
        "What is Eko Nugriyanto's position?",
        "apa jabatan gugi harry wahyudi",
        "Pramono Anung itu jabatannya apa?",
        "jaksa dapat mewakili negara sebagai apa?",
    ):
        asked = question_type(question)
        assert (asked.kind, asked.unit) == ("other", "role"), question
        assert not span_fits(asked.kind, "17 Agustus 1945", asked.unit)
        assert not span_fits(asked.kind, "2", asked.unit)
        assert span_fits(asked.kind, "Direktur Direktorat Sistem Informasi (DSI)", asked.unit)
        assert span_fits(asked.kind, "Kapuspenkum", asked.unit)
    for question in (
        "pencairan bansos tambahan kuartal 4 2025 lewat mana aja kata gus ipul",
        "bansos buat kpm reguler disalurkan lewat apa",
        "Through which channel do new recipients get their payments?",
    ):
        asked = question_type(question)
        assert asked.unit == "way", question
        assert not span_fits(asked.kind, "minggu depan", asked.unit)
        assert not span_fits(asked.kind, "mulai 17 Oktober", asked.unit)
        assert span_fits(asked.kind, "Himbara", asked.unit)
        assert span_fits(asked.kind, "PT Pos Indonesia", asked.unit)
    # a rank is asked in numbers
    assert question_type("At what position does the capital's construction rank?").unit is None


def test_a_yes_no_question_is_told_from_a_what_question() -> None:
    """English asks whether with an auxiliary first; Indonesian with "apakah" and a predicate.
    "Apakah" also opens "what" questions ("Apakah nama bandara di Medan?"): those are none."""
    for question in (
        "Did Nikita Mirzani cry in court?",
        "Was the defendant sentenced?",
        "Is there a curfew in Jakarta?",
        "apakah harga beras naik",
        "Apakah harga cabai sudah turun?",
        "apakah polisi menangkap pelaku penipuan",
        "apakah Prabowo hadir di acara itu",
    ):
        assert asks_yes_no(question), question
    for question in (
        "Apakah nama bandara di Medan?",
        "Apakah kepanjangan dari KPU?",
        "Apakah yang menjadi tujuan wisata di Banten",
        "Apakah makanan penyu belimbing",
        "Apakah nama proses perubahan dari es menjadi uap air?",
        "Is the match on Saturday or Sunday?",
        "Did the police say who was arrested?",
        "What did the minister say?",
    ):
        assert not asks_yes_no(question), question


def test_an_english_yes_no_question_with_a_common_verb_finds_its_sentence() -> None:
    """ "Did Nikita Mirzani cry in court?" abstained: "cry" was not in the English->Indonesian
    lexicon, so no sentence could be shown to say it. Common verbs are, in their past forms too
    ("cried")."""
    sentence = "Nikita Mirzani menangis di ruang sidang Pengadilan Negeri Jakarta Selatan."
    assert says_all_of("Did Nikita Mirzani cry in court?", sentence)
    assert says_all_of("Nikita Mirzani cried in court?", sentence)
    assert says_all_of("Did the crowd laugh?", "Massa di ruangan itu tertawa.")
    assert not says_all_of("Did Nikita Mirzani laugh in court?", sentence)


def test_an_english_yes_no_question_is_read_phrase_by_phrase_without_its_function_words() -> None:
    """English yes/no questions abstained over the sentence that says what they ask: "Has",
    "Will", "along" have no Indonesian word, so no sentence could say them; "charging" was
    read alone ("dakwa", to charge with a crime) rather than in "charging stations" (SPKLU);
    "areas" was not "Area"; and a word only the reader's Indonesian -> English lexicon knows
    ("pelukis" -> "painter") was never found. A content word no sentence says still
    abstains."""
    trees = "Jasa Marga melakukan penanaman pohon di sekitar koridor jalan tol."
    assert says_all_of("Has Jasa Marga planted trees along the toll road corridor?", trees)
    stations = (
        "Jasa Marga menyediakan 157 unit Stasiun Pengisian Kendaraan Listrik Umum (SPKLU) di 54 "
        "titik Rest Area."
    )
    assert says_all_of("Did Jasa Marga provide charging stations at rest areas?", stations)
    painter = "Seorang pelukis asal Bali memperoleh penghargaan itu."
    assert says_all_of("Did a painter from Bali obtain the award?", painter)
    system = "Purbaya sudah menyiapkan sistem teknologi yang canggih."
    assert says_all_of("Will Purbaya prepare a sophisticated technology system?", system)
    assert not says_all_of("Will Jasa Marga sell the toll road corridor?", trees)
    assert not says_all_of("Did a painter from Java obtain the award?", painter)


def test_the_counts_of_the_thing_a_count_question_names_are_found_in_a_passage() -> None:
    """A count of the thing named after "how many" / "berapa", after a classifier too, is found
    in the passage text, whatever the reader scored it; counts of other things are not."""
    text = (
        "Jasa Marga menyediakan 157 unit Stasiun Pengisian Kendaraan Listrik Umum (SPKLU) di 54 "
        "titik Rest Area dan melayani 111 juta angkutan logistik."
    )
    spans = lambda q: [text[s:e] for s, e in counts_of_asked_thing(q, text)]  # noqa: E731
    assert spans("How many EV charging stations has Jasa Marga provided?") == ["157 unit"]
    assert spans("How many rest areas have SPKLU?") == ["54 titik"]
    assert spans("berapa unit stasiun pengisian yang disediakan") == ["157 unit"]
    assert spans("How many toll roads does Jasa Marga run?") == []
    assert spans("berapa jumlah yang hadir") == []


def test_a_question_for_a_named_person_is_not_answered_by_a_body_or_an_office() -> None:
    """Asked for people by name or by what they are, a span naming no one is no answer: an
    institution first, or an office with the place it is held for. Titles before a name
    keep it. Other "siapa" questions are often answered by a body ("Pemkab Banjarnegara")."""
    assert asks_for_named_person("who were the two people who received the awards")
    assert asks_for_named_person("siapa saja pelaku penipuan itu")
    assert asks_for_named_person("siapa nama Wali Kota Solo")
    assert asks_for_named_person("siapa bupati Bogor")
    assert not asks_for_named_person("siapa penyelenggara acara itu")
    assert not asks_for_named_person("siapa saja pemenang Top 21 inovasi pelayanan publik")
    for span in (
        "Presiden Prabowo",
        "Menteri Sekretaris Negara Yusril Ihza Mahendra",
        "Kapolda Sumsel Irjen A. Rachmad Wibowo",
        "Sekda Kabupaten Bogor, Ajat Rochmat Jatnika",
        "Rizal",
    ):
        assert names_a_person(span), span
    for span in (
        "Bupati Bogor",
        "Gubernur Jawa Barat",
        "Pemerintah Kota (Pemkot) Palembang",
        "Polisi Resor Kota Medan",
    ):
        assert not names_a_person(span), span
    assert not names_a_person("Bogor", before="saat menerima penghargaan mewakili Bupati ")
    assert names_a_person("Rudy Susmanto", before="Bupati Bogor ")


def test_how_many_with_several_words_before_its_noun_counts_that_noun() -> None:
    """ "How many EV charging stations ..." was no count question (one word at most stood
    between "how many" and the noun), so "lebih dari 111 juta" (logistics vehicles) answered
    it; and a question naming another thing later ("... at its rest areas") took "54 titik
    Rest Area" for the thing asked. The thing counted is the noun phrase after "how many"."""
    question = "How many public EV charging stations has Jasa Marga set up at its rest areas?"
    assert question_type(question).unit == "count"
    assert question_type("How many EV charging stations has Jasa Marga provided?").unit == "count"
    assert question_type("How many were killed in the clashes?").unit is None
    assert counted_thing(question, "157 unit", " Stasiun Pengisian Kendaraan Listrik") == "asked"
    assert counted_thing(question, "54 titik", " Rest Area, pengolahan sampah") == "other"
    assert counted_thing("How many rest areas have SPKLU?", "54 titik", " Rest Area") == "asked"
