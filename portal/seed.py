"""Catalogue seed for Kota Serang, from DOMAIN.md. Admins correct it later; it is data."""

from __future__ import annotations

ADMINDUK_BASIS = "UU 24/2013 Pasal 79A"
# What charging for a population document costs an official: up to 6 years in prison
# and/or a fine up to Rp75 juta.
ADMINDUK_PENALTY = "UU 24/2013 Pasal 95B"

# (code, Indonesian, English)
CATEGORIES = [
    ("pungli", "Pungutan liar", "Illegal levy"),
    ("calo", "Percaloan", "Brokering (calo)"),
    ("gratifikasi", "Permintaan imbalan / gratifikasi", "Asking for a 'thank-you' / gratuity"),
    ("penundaan", "Penundaan berlarut", "Undue delay"),
    ("prosedur", "Dipersulit / penyimpangan prosedur", "Made difficult / procedure not followed"),
    ("tidak_dilayani", "Tidak memberikan pelayanan", "Service refused"),
    ("diskriminasi", "Diskriminasi", "Discrimination"),
    ("perilaku", "Perilaku petugas", "Officer conduct"),
    ("sarana", "Sarana dan prasarana", "Facilities"),
    ("saran", "Kritik dan saran", "Criticism and suggestions"),
]

# (code, Indonesian, English, standard time id, standard time en); all free (Pasal 79A).
# The times are *unverified* for Kota Serang (DOMAIN.md): national targets or what was seen
# elsewhere. An admin corrects them on the catalogue page; the seed never overwrites edits.
SERVICES = [
    ("ktp_el", "KTP-el (KTP elektronik)", "KTP-el (electronic ID card)", "1 jam", "1 hour"),
    (
        "kk",
        "Kartu Keluarga (baru, perubahan, hilang)",
        "Family card (new, change, lost)",
        "1 jam",
        "1 hour",
    ),
    ("akta_kelahiran", "Akta Kelahiran", "Birth certificate", "1 hari", "1 day"),
    ("akta_kematian", "Akta Kematian", "Death certificate", "1 hari", "1 day"),
    (
        "pindah_datang",
        "Surat Pindah / Datang (SKPWNI, SKDWNI)",
        "Moving out / in letter (SKPWNI, SKDWNI)",
        "1 hari",
        "1 day",
    ),
    ("kia", "KIA (Kartu Identitas Anak)", "KIA (child identity card)", "3 hari", "3 days"),
    ("akta_perkawinan", "Akta Perkawinan / Perceraian", "Marriage / divorce certificate", "", ""),
    (
        "pengakuan_anak",
        "Pengakuan / Pengesahan Anak",
        "Acknowledgement / legitimation of a child",
        "",
        "",
    ),
    ("lainnya", "Layanan lain", "Other service", "", ""),
]

KECAMATAN = ["Serang", "Kasemen", "Walantaka", "Curug", "Cipocok Jaya", "Taktakan"]

# (code, Indonesian, English, kind)
UNITS = [
    (
        "disdukcapil",
        "Kantor Disdukcapil Kota Serang (loket)",
        "Disdukcapil Kota Serang office (counters)",
        "office",
    ),
    ("mpp", "Mal Pelayanan Publik Kota Serang", "Kota Serang Public Service Mall", "mpp"),
    ("dpmptsp", "Perizinan terpadu (DPMPTSP)", "Integrated licensing office (DPMPTSP)", "office"),
    ("keliling", "Pelayanan keliling (mobil layanan)", "Mobile service car", "mobile"),
    *[
        (
            "kec_" + name.lower().replace(" ", "_"),
            f"Kantor Kecamatan {name}",
            f"{name} sub-district office",
            "kecamatan",
        )
        for name in KECAMATAN
    ],
    *[
        (
            "kel_" + name.lower().replace(" ", "_"),
            f"Kantor kelurahan di Kecamatan {name}",
            f"A kelurahan office in {name} sub-district",
            "kelurahan",
        )
        for name in KECAMATAN
    ],
    ("lainnya", "Tempat lain", "Another place", "other"),
]

# Services offered by the report form but not listed in the public fee catalogue: "Other
# service" has no fee or time of its own to publish.
UNLISTED_SERVICES = frozenset({"lainnya"})

# Requirements per service, one per line (Indonesian, English). Generic, after the national
# rules (Permendagri 108/2019); a city adds or corrects its own on the catalogue page.
REQUIREMENTS: dict[str, tuple[str, str]] = {
    "ktp_el": (
        "Kartu Keluarga (KK)\n"
        "Sudah berusia 17 tahun atau sudah/pernah kawin\n"
        "Penggantian: KTP-el yang rusak, atau surat pernyataan kehilangan",
        "Family card (KK)\n"
        "Aged 17 or over, or married or previously married\n"
        "Replacement: the damaged KTP-el, or a statement that it was lost",
    ),
    "kk": (
        "KK baru: buku nikah / kutipan akta perkawinan\n"
        "Perubahan: KK lama dan dokumen yang menjadi dasar perubahan\n"
        "Hilang atau rusak: surat pernyataan kehilangan atau KK yang rusak",
        "New card: marriage book / marriage certificate\n"
        "Change: the old family card and the document behind the change\n"
        "Lost or damaged: a statement that it was lost, or the damaged card",
    ),
    "akta_kelahiran": (
        "Surat keterangan kelahiran dari rumah sakit, puskesmas, bidan atau kelurahan\n"
        "Kartu Keluarga orang tua\n"
        "Buku nikah / akta perkawinan orang tua, atau Surat Pernyataan Tanggung Jawab Mutlak "
        "(SPTJM)",
        "Birth letter from the hospital, community health centre, midwife or kelurahan\n"
        "The parents' family card\n"
        "The parents' marriage book / certificate, or a statement of absolute responsibility "
        "(SPTJM)",
    ),
    "akta_kematian": (
        "Surat keterangan kematian dari rumah sakit, puskesmas, dokter atau kelurahan\n"
        "Kartu Keluarga dan KTP-el almarhum/almarhumah\n"
        "KTP-el pelapor",
        "Death letter from the hospital, community health centre, doctor or kelurahan\n"
        "Family card and KTP-el of the deceased\n"
        "KTP-el of the person reporting the death",
    ),
    "pindah_datang": (
        "Kartu Keluarga\nKTP-el\nDatang: Surat Keterangan Pindah (SKPWNI) dari daerah asal",
        "Family card\nKTP-el\nMoving in: the moving-out letter (SKPWNI) from the previous place",
    ),
    "kia": (
        "Kutipan akta kelahiran anak\n"
        "Kartu Keluarga orang tua\n"
        "KTP-el kedua orang tua / wali\n"
        "Pas foto berwarna anak untuk usia 5 tahun ke atas",
        "The child's birth certificate\n"
        "The parents' family card\n"
        "KTP-el of both parents / the guardian\n"
        "A colour photo of the child, from age 5",
    ),
    "akta_perkawinan": (
        "Perkawinan: surat keterangan perkawinan dari pemuka agama / penghayat kepercayaan\n"
        "Perceraian: putusan pengadilan yang telah berkekuatan hukum tetap\n"
        "Kartu Keluarga dan KTP-el para pihak",
        "Marriage: the marriage statement from the religious / belief leader\n"
        "Divorce: the final court decision\n"
        "Family card and KTP-el of both parties",
    ),
    "pengakuan_anak": (
        "Surat pengakuan anak dari ayah yang disetujui ibu, atau penetapan pengadilan\n"
        "Kutipan akta kelahiran anak\n"
        "Kartu Keluarga dan KTP-el orang tua",
        "The father's acknowledgement of the child, agreed by the mother, or a court order\n"
        "The child's birth certificate\n"
        "Family card and KTP-el of the parents",
    ),
}

# Where each service is served, by unit kind or code. Generic and *unverified*: the office
# and the MPP take every application; kecamatan offices record KTP-el and family changes;
# kelurahan offices give cover letters and take applications; the car records KTP-el/KIA.
SERVED_AT: dict[str, tuple[str, ...]] = {
    "ktp_el": ("disdukcapil", "mpp", "dpmptsp", "keliling", "kecamatan"),
    "kk": ("disdukcapil", "mpp", "dpmptsp", "kecamatan", "kelurahan"),
    "akta_kelahiran": ("disdukcapil", "mpp", "dpmptsp", "keliling", "kelurahan"),
    "akta_kematian": ("disdukcapil", "mpp", "dpmptsp", "kelurahan"),
    "pindah_datang": ("disdukcapil", "mpp", "kecamatan", "kelurahan"),
    "kia": ("disdukcapil", "mpp", "keliling"),
    "akta_perkawinan": ("disdukcapil", "mpp"),
    "pengakuan_anak": ("disdukcapil",),
}
