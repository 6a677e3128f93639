"""Catalogue seed for Kota Serang, from DOMAIN.md. Admins correct it later; it is data."""

from __future__ import annotations

ADMINDUK_BASIS = "UU 24/2013 Pasal 79A"

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
