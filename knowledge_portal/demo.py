"""Demonstration content for all six member states (idempotent).

Facts taken from public reporting (``/work/shared/context/gcc-facts.md``: Arabic
press coverage of the GCC e-government programmes) carry a bilingual source
line naming the kind of source ("reported by the Kuwait News Agency (KUNA)");
the sentences are the portal's own. Everything invented is flagged ``is_demo``
and shown with a "demonstration data" badge, and has no source line. Where a
fact is not known (an award winner's name), the field is left out and the page
reads without it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gcc_link.protocol.identifiers import STATE_NAMES

from .models import Achievement, AwardEdition, AwardWinner, EgdiRank, Practice, Service, Standard, State, TagLabel
from .reference import STATE_AGENCIES
from .tags import tag_key

#: Sources as (Arabic, English) pairs.
KUNA = ("ذكرته وكالة الأنباء الكويتية (كونا)", "Reported by the Kuwait News Agency (KUNA)")
PRESS_SA = (
    "ورد في تغطية الصحافة العربية لبرنامج يسّر في المملكة العربية السعودية",
    "Reported in Arabic-language press coverage of Saudi Arabia's Yesser programme",
)
ALGHAD = ("ذكرته صحيفة الغد الأردنية", "Reported by Al-Ghad, Jordan")
PRESS_YE = (
    "ورد في تغطية الصحافة العربية لبرنامج الحكومة الإلكترونية في اليمن",
    "Reported in Arabic-language press coverage of Yemen's e-government programme",
)
NONE = ("", "")
DEMO_RANK = ("بيانات توضيحية", "Demonstration data")

STATES: list[dict[str, Any]] = [
    dict(
        code="KW",
        name_ar=STATE_NAMES["KW"][0],
        name_en=STATE_NAMES["KW"][1],
        network_status="active",
        sort_order=1,
        agency_ar="الجهاز المركزي لتكنولوجيا المعلومات",
        agency_en="Central Agency for Information Technology (CAIT)",
        programme_ar="برنامج الحكومة الإلكترونية في الكويت يقدّم عبر البوابة الرسمية للدولة أكثر من ألف خدمة من جهات حكومية عديدة، وتضاف إليها خدمات وزارات الصحة والتجارة والصناعة والداخلية والعدل والمؤسسة العامة للرعاية السكنية.",
        programme_en="Kuwait's e-government programme offers more than 1,000 services from many agencies on the official state portal; services of the ministries of health, commerce and industry, interior and justice and of the Public Authority for Housing Welfare are being added.",
        readiness_ar="أول خدمة متكاملة بين الجهات هي القرض الاجتماعي عبر بنك الائتمان الكويتي، وتصدر تراخيص الإطفاء عبر أجهزة الخدمة الذاتية.",
        readiness_en="The first integrated cross-agency service is the social loan of the Kuwait Credit Bank; fire-service licences are issued through self-service devices.",
    ),
    dict(
        code="SA",
        name_ar=STATE_NAMES["SA"][0],
        name_en=STATE_NAMES["SA"][1],
        network_status="active",
        sort_order=2,
        agency_ar="برنامج التعاملات الإلكترونية الحكومية (يسّر)",
        agency_en="E-government transactions programme (Yesser)",
        programme_ar="خطة خمسية للتعاملات الإلكترونية الحكومية: اكتملت خمسة مشاريع للبنية التحتية، وثلاثة مشاريع تطبيقات وطنية مع ثلاث جهات، وسُلّمت المجموعتان الأولى والثانية من أول ١٥٠ خدمة.",
        programme_en="A five-year e-government plan: five infrastructure projects done and one remaining, three national application projects with three agencies, and the first and second groups of the first 150 services delivered.",
        readiness_ar="التدريب في ثلاثة مسارات: المستخدمون، ومتخصصو تقنية المعلومات، والقادة ومديرو المشاريع.",
        readiness_en="Training runs in three tracks: users, IT specialists, and leaders and project managers.",
    ),
    dict(
        code="QA",
        name_ar=STATE_NAMES["QA"][0],
        name_en=STATE_NAMES["QA"][1],
        network_status="active",
        sort_order=3,
        agency_ar=STATE_AGENCIES["QA"][0],
        agency_en=STATE_AGENCIES["QA"][1],
        programme_ar="استضافت قطر الاجتماع الخامس عشر للجنة التنفيذية للحكومة الإلكترونية الخليجية، وتطوّر بوابة إدارة المعرفة المشتركة بين دول المجلس.",
        programme_en="Qatar hosted the 15th meeting of the GCC e-government executive committee and is developing the knowledge-management portal shared between the GCC states.",
        readiness_ar="قدّمت قطر في الاجتماع نفسه تقريراً عن بوابة إدارة المعرفة. أما أرقام جاهزية الخدمات أدناه فبيانات توضيحية تُستبدل بالدليل الذي تنشره عقدة قطر على الشبكة.",
        readiness_en="Qatar reported on the knowledge-management portal at the same meeting. The service-readiness figures below are demonstration data, to be replaced by the catalogue Qatar's node publishes on the network.",
    ),
    dict(
        code="AE",
        name_ar=STATE_NAMES["AE"][0],
        name_en=STATE_NAMES["AE"][1],
        network_status="trial",
        sort_order=4,
        agency_ar="هيئة تنظيم الاتصالات – الحكومة الإلكترونية",
        agency_en="Telecommunications Regulatory Authority – e-government",
        programme_ar="انضمت الإمارات إلى الشبكة الخليجية بعد أسابيع من الربط التجريبي الأول.",
        programme_en="The UAE joined the GCC network weeks after the first trial interconnection.",
        readiness_ar="كانت الإمارات من الدول التي تقرر انضمامها خلال أسابيع من الربط الأول. أرقام جاهزية الخدمات أدناه بيانات توضيحية إلى أن تنشر عقدة الإمارات دليل خدماتها.",
        readiness_en="The UAE was among the states due to join within weeks of the first interconnection. The service-readiness figures below are demonstration data until the UAE's node publishes its service catalogue.",
    ),
    dict(
        code="BH",
        name_ar=STATE_NAMES["BH"][0],
        name_en=STATE_NAMES["BH"][1],
        network_status="trial",
        sort_order=5,
        agency_ar="هيئة الحكومة الإلكترونية",
        agency_en="eGovernment Authority",
        programme_ar="استضافت البحرين جائزة الحكومة الإلكترونية لدول مجلس التعاون ومعرضها ومؤتمرها الدولي.",
        programme_en="Bahrain hosted the GCC e-government award with its exhibition and international conference.",
        readiness_ar="استضافت البحرين الجائزة مع معرض تعرض فيه الجهات الحكومية خدماتها. أرقام جاهزية الخدمات أدناه بيانات توضيحية إلى أن تنشر عقدة البحرين دليل خدماتها.",
        readiness_en="Bahrain hosted the award with an exhibition where government bodies show their services. The service-readiness figures below are demonstration data until Bahrain's node publishes its service catalogue.",
    ),
    dict(
        code="OM",
        name_ar=STATE_NAMES["OM"][0],
        name_en=STATE_NAMES["OM"][1],
        network_status="trial",
        sort_order=6,
        agency_ar="هيئة تقنية المعلومات",
        agency_en="Information Technology Authority",
        programme_ar="برنامج عُمان الرقمية؛ استضافت عُمان إحدى دورات جائزة الحكومة الإلكترونية الخليجية.",
        programme_en="Digital Oman programme; Oman hosted one of the editions of the GCC e-government award.",
        readiness_ar="كانت عُمان من الدول التي تقرر انضمامها إلى الشبكة خلال أسابيع من الربط الأول. أرقام جاهزية الخدمات أدناه بيانات توضيحية إلى أن تنشر عقدة عُمان دليل خدماتها.",
        readiness_en="Oman was among the states due to join the network within weeks of the first interconnection. The service-readiness figures below are demonstration data until Oman's node publishes its service catalogue.",
    ),
]

# UN EGDI ranks. Kuwait's rise of 14 places to 49th is reported; the rest are demonstration values.
RANKS = {
    "KW": [(2010, 50, DEMO_RANK), (2012, 63, KUNA), (2014, 49, KUNA)],
    "SA": [(2010, 58, DEMO_RANK), (2012, 41, DEMO_RANK), (2014, 36, DEMO_RANK)],
    "QA": [(2010, 62, DEMO_RANK), (2012, 48, DEMO_RANK), (2014, 44, DEMO_RANK)],
    "AE": [(2010, 49, DEMO_RANK), (2012, 28, DEMO_RANK), (2014, 32, DEMO_RANK)],
    "BH": [(2010, 13, DEMO_RANK), (2012, 36, DEMO_RANK), (2014, 18, DEMO_RANK)],
    "OM": [(2010, 82, DEMO_RANK), (2012, 64, DEMO_RANK), (2014, 48, DEMO_RANK)],
}

# Catalogue entries that correspond to a service the state's node publishes on the network (nodes/<cc>/node.toml).
NETWORK_SERVICES = {
    ("KW", "Commercial registration renewal"): "KW/MOCI/commercial-registration",
    ("SA", "Commercial registration renewal"): "SA/MC/commercial-registration",
    ("QA", "Commercial registration renewal"): "QA/MOCI/commercial-registration",
    ("AE", "Commercial registration renewal"): "AE/MOE/commercial-registration",
    ("BH", "Commercial registration renewal"): "BH/MOIC/commercial-registration",
    ("OM", "Commercial registration renewal"): "OM/MOCIIP/commercial-registration",
}

# (sector, agency ar, agency en, name ar, name en)
SERVICE_TEMPLATES = [
    ("interior", "وزارة الداخلية", "Ministry of Interior", "تجديد رخصة القيادة", "Driving licence renewal"),
    ("interior", "وزارة الداخلية", "Ministry of Interior", "استعلام المخالفات المرورية", "Traffic violations enquiry"),
    ("health", "وزارة الصحة", "Ministry of Health", "حجز المواعيد الطبية", "Medical appointment booking"),
    (
        "commerce",
        "وزارة التجارة والصناعة",
        "Ministry of Commerce and Industry",
        "تجديد السجل التجاري",
        "Commercial registration renewal",
    ),
    ("justice", "وزارة العدل", "Ministry of Justice", "الاستعلام عن القضايا", "Court case enquiry"),
    ("education", "وزارة التربية", "Ministry of Education", "نتائج الطلبة", "Student results"),
    ("municipal", "البلدية", "Municipality", "تجديد تراخيص الإعلانات", "Advertisement licence renewal"),
    (
        "labour",
        "وزارة الشؤون الاجتماعية والعمل",
        "Ministry of Social Affairs and Labour",
        "إصدار تصاريح العمل",
        "Work permit issuance",
    ),
]
STAGES = ("emerging", "enhanced", "transactional", "connected")
# Per state, the maturity index of each template (deterministic, varied across states).
STAGE_PLAN = {
    "KW": (3, 2, 2, 3, 1, 1, 2, 2),
    "SA": (3, 3, 2, 3, 2, 2, 1, 3),
    "QA": (2, 3, 3, 2, 0, 2, 2, 1),
    "AE": (3, 3, 3, 3, 2, 2, 3, 2),
    "BH": (3, 2, 3, 3, 2, 1, 2, 3),
    "OM": (2, 0, 2, 2, 0, 1, 0, 2),
}

# Reported services (not demonstration data).
REPORTED_SERVICES: list[dict[str, Any]] = [
    dict(
        state_code="KW",
        sector="finance",
        agency_ar="بنك الائتمان الكويتي",
        agency_en="Kuwait Credit Bank",
        name_ar="القرض الاجتماعي (أول خدمة متكاملة بين الجهات)",
        name_en="Social loan (first integrated cross-agency service)",
        maturity="connected",
        channels="web",
        e_payment=False,
        end_to_end=True,
        ministry_priority=True,
        launch_phase=1,
        cross_border=False,
        source=KUNA,
    ),
    dict(
        state_code="KW",
        sector="security",
        agency_ar="الإدارة العامة للإطفاء",
        agency_en="Kuwait Fire Service Directorate",
        name_ar="تراخيص الإطفاء عبر أجهزة الخدمة الذاتية",
        name_en="Fire-service licences from self-service devices",
        maturity="transactional",
        channels="kiosk",
        e_payment=True,
        end_to_end=True,
        ministry_priority=True,
        launch_phase=1,
        cross_border=False,
        source=KUNA,
    ),
    dict(
        state_code="KW",
        sector="municipal",
        agency_ar="بلدية الكويت",
        agency_en="Kuwait Municipality",
        name_ar="تجديد الرخص والإعلانات",
        name_en="Licence and advertisement renewal",
        maturity="transactional",
        channels="web",
        e_payment=True,
        end_to_end=False,
        ministry_priority=False,
        launch_phase=2,
        cross_border=False,
        source=KUNA,
    ),
]

ACHIEVEMENTS = [
    (
        "KW",
        date(2014, 11, 18),
        "network",
        "الكويت تعلن الربط التجريبي للشبكة الخليجية للحكومة الإلكترونية مع قطر والسعودية",
        "Kuwait announces the trial interconnection of the GCC e-government network with Qatar and Saudi Arabia",
        "أعلن الجهاز المركزي لتكنولوجيا المعلومات خلال الاجتماع الخامس عشر للجنة التنفيذية للحكومة الإلكترونية الخليجية بدء الربط التجريبي بين الكويت وقطر والسعودية، وهي الدول التي اكتملت شبكاتها أولاً، على أن تنضم الإمارات والبحرين وعُمان خلال أسابيع. والغاية أن تتبادل كل جهة حكومية المعلومات مع نظيراتها في الدول الأعضاء الأخرى.",
        "At the 15th meeting of the GCC e-government executive committee, CAIT announced the trial interconnection of Kuwait, Qatar and Saudi Arabia, the states whose networks were ready first; the UAE, Bahrain and Oman were to join within weeks. The aim is for every government agency to exchange information with its peers in the other member states.",
        KUNA,
    ),
    (
        "KW",
        date(2014, 6, 25),
        "ranking",
        "الكويت تتقدم ١٤ مرتبة إلى المرتبة ٤٩ عالمياً في مؤشر الأمم المتحدة للحكومة الإلكترونية",
        "Kuwait rises 14 places to 49th in the UN e-government ranking",
        "تقدمت الكويت أربع عشرة مرتبة في مسح الأمم المتحدة للحكومة الإلكترونية لتحل في المرتبة التاسعة والأربعين، وأصبحت دول مجلس التعاون جميعها بذلك ضمن أفضل خمسين دولة في العالم.",
        "Kuwait rose fourteen places in the UN e-government survey to 49th, which put every GCC state within the world's top 50.",
        KUNA,
    ),
    (
        "KW",
        date(2013, 9, 1),
        "services",
        "أول خدمة إلكترونية متكاملة: القرض الاجتماعي",
        "First integrated e-service: the social loan",
        "أتاح بنك الائتمان الكويتي خدمة القرض الاجتماعي عبر البوابة الرسمية للدولة، وهي أول خدمة تشترك فيها أكثر من جهة حكومية في إنجاز طلب واحد.",
        "The Kuwait Credit Bank made its social loan available on the official state portal: the first service in which several government agencies complete one request together.",
        KUNA,
    ),
    (
        "KW",
        date(2014, 3, 1),
        "portal",
        "أكثر من ألف خدمة على البوابة الرسمية لدولة الكويت",
        "More than 1,000 services on Kuwait's official portal",
        "تقدم البوابة الرسمية لدولة الكويت أكثر من ألف خدمة من جهات حكومية عديدة، وتضاف إليها خدمات وزارات الصحة والتجارة والصناعة والداخلية والعدل والمؤسسة العامة للرعاية السكنية.",
        "Kuwait's official portal offers more than 1,000 services from many agencies, and services of the ministries of health, commerce and industry, interior and justice and of the Public Authority for Housing Welfare are being added.",
        KUNA,
    ),
    (
        "SA",
        date(2004, 5, 24),
        "policy",
        "قرار مجلس الوزراء رقم ١١٠ بتاريخ ٥/٤/١٤٢٥هـ للشراكة مع القطاع الخاص",
        "Council of Ministers decision no. 110 of 5/4/1425 AH on private-sector partnership",
        "وضع القرار قواعد الشراكة مع القطاع الخاص في تقديم الخدمات الإلكترونية الحكومية على أساس تقاسم الإيرادات، وتلته ورشة عمل مع الإسكوا ومعهد IP3 في الرياض.",
        "The decision set rules for partnering with the private sector on government e-services on a revenue-sharing basis; a workshop with UN ESCWA and the IP3 institute in Riyadh followed.",
        PRESS_SA,
    ),
    (
        "SA",
        date(2012, 4, 1),
        "services",
        "تسليم المجموعتين الأولى والثانية من أول ١٥٠ خدمة",
        "First and second groups of the first 150 services delivered",
        "سلّم برنامج يسّر المجموعتين الأولى والثانية من أول مئة وخمسين خدمة إلكترونية ضمن خطته الخمسية، والمجموعة الثالثة قيد الإعداد. وقد اكتمل في الخطة نفسها خمسة من مشاريع البنية التحتية الستة.",
        "Yesser delivered the first and second groups of its first 150 e-services under the five-year plan, with the third group in preparation. Five of the plan's six infrastructure projects are complete.",
        PRESS_SA,
    ),
    (
        "SA",
        date(2012, 10, 1),
        "capacity",
        "التدريب في ثلاثة مسارات ومبادرة الحاسب المنزلي",
        "Training in three tracks and the home-computer initiative",
        "يدرّب البرنامج المستخدمين ومتخصصي تقنية المعلومات والقادة ومديري المشاريع في ثلاثة مسارات، ويرافق إطلاقَ كل خدمة حملةُ توعية، إلى جانب مبادرة الحاسب المنزلي.",
        "The programme trains users, IT specialists, and leaders and project managers in three tracks; each service launch comes with an awareness campaign, alongside the home-computer initiative.",
        PRESS_SA,
    ),
    (
        "QA",
        date(2014, 11, 18),
        "network",
        "قطر تستضيف الاجتماع الخامس عشر للجنة التنفيذية للحكومة الإلكترونية الخليجية",
        "Qatar hosts the 15th meeting of the GCC e-government executive committee",
        "استضافت وزارة الاتصالات وتكنولوجيا المعلومات الاجتماع بحضور رؤساء أجهزة الحكومة الإلكترونية في الدول الأعضاء والأمانة العامة لمجلس التعاون. وعُرضت فيه البوابة الخليجية الموحدة كاملة، وقدمت قطر تقريراً عن تطوير بوابة إدارة المعرفة المشتركة.",
        "The Ministry of Information and Communications Technology hosted the meeting with the heads of the member states' e-government bodies and the GCC secretariat general. The unified GCC portal was shown in full, and Qatar reported on developing the shared knowledge-management portal.",
        KUNA,
    ),
    (
        "QA",
        date(2013, 5, 12),
        "portal",
        "إطلاق مرحلة جديدة من البوابة الحكومية",
        "New phase of the government portal launched",
        "مثال توضيحي: تجمع المرحلة الجديدة الخدمات حسب احتياجات المستخدم بدلاً من الجهة المقدمة لها، وتضيف البحث الموحد باللغتين العربية والإنجليزية.",
        "An illustrative example: the new phase groups services by what the user needs rather than by the agency that provides them, and adds one search in Arabic and English.",
        NONE,
    ),
    (
        "AE",
        date(2014, 12, 10),
        "network",
        "الإمارات تنضم إلى الشبكة الخليجية للحكومة الإلكترونية",
        "The UAE joins the GCC e-government network",
        "مثال توضيحي لتاريخ الانضمام: كان مقرراً أن تنضم الإمارات خلال أسابيع من الربط التجريبي بين الكويت وقطر والسعودية، وتتبادل جهاتها الرسائل الموقعة مع نظيراتها منذ انضمامها.",
        "An illustrative joining date: the UAE was due to join within weeks of the trial interconnection of Kuwait, Qatar and Saudi Arabia, and its agencies exchange signed messages with their peers from then on.",
        NONE,
    ),
    (
        "AE",
        date(2013, 5, 22),
        "services",
        "إطلاق تطبيقات الخدمات الحكومية على الهواتف الذكية",
        "Government services launched as smartphone apps",
        "مثال توضيحي: تحويل الخدمات الأكثر طلباً إلى تطبيقات للهواتف الذكية، مع الدفع الإلكتروني وتتبع حالة الطلب من الهاتف.",
        "An illustrative example: the most requested services become smartphone apps, with e-payment and tracking of each request from the phone.",
        NONE,
    ),
    (
        "BH",
        date(2014, 12, 15),
        "network",
        "البحرين تنضم إلى الشبكة الخليجية للحكومة الإلكترونية",
        "Bahrain joins the GCC e-government network",
        "مثال توضيحي لتاريخ الانضمام: كانت البحرين من الدول الثلاث التي تقرر انضمامها بعد الربط التجريبي الأول، فصارت جهاتها قادرة على تبادل المعلومات مع نظيراتها الخليجية.",
        "An illustrative joining date: Bahrain was one of the three states due to join after the first trial interconnection, after which its agencies can exchange information with their Gulf peers.",
        NONE,
    ),
    (
        "BH",
        date(2013, 3, 20),
        "services",
        "خدمات الدفع الإلكتروني الموحدة",
        "Unified e-payment services",
        "مثال توضيحي: بوابة دفع إلكتروني واحدة تستخدمها الجهات الحكومية كلها، فيدفع المستخدم الرسوم بالطريقة نفسها أياً كانت الخدمة.",
        "An illustrative example: one e-payment gateway used by every government agency, so people pay fees the same way whatever the service.",
        NONE,
    ),
    (
        "OM",
        date(2014, 12, 20),
        "network",
        "عُمان تنضم إلى الشبكة الخليجية للحكومة الإلكترونية",
        "Oman joins the GCC e-government network",
        "مثال توضيحي لتاريخ الانضمام: كانت عُمان من الدول التي تقرر انضمامها خلال أسابيع من الربط الأول، لتكتمل بها الشبكة بين الدول الست.",
        "An illustrative joining date: Oman was among the states due to join within weeks of the first interconnection, completing the network between the six states.",
        NONE,
    ),
    (
        "OM",
        date(2012, 9, 3),
        "infrastructure",
        "تشغيل مركز البيانات الحكومي ومركز التعافي من الكوارث",
        "Government data centre and disaster-recovery site in operation",
        "مثال توضيحي: مركز بيانات مشترك تستضيف فيه الجهات الحكومية أنظمتها، مع موقع احتياطي يتولى الخدمة إذا تعطل المركز الرئيسي.",
        "An illustrative example: a shared data centre where government agencies host their systems, with a standby site that takes over if the main centre fails.",
        NONE,
    ),
]

AWARDS = [
    (
        2010,
        "OM",
        [("أفضل خدمة إلكترونية", "Best e-service", "OM"), ("أفضل بوابة حكومية", "Best government portal", "BH")],
    ),
    (
        2011,
        "KW",
        [
            ("أفضل خدمة إلكترونية", "Best e-service", "KW"),
            ("أفضل تطبيق للهاتف المحمول", "Best mobile application", "AE"),
        ],
    ),
    (
        2013,
        "AE",
        [
            ("أفضل بوابة حكومية", "Best government portal", "AE"),
            ("أفضل مشروع للتكامل بين الجهات", "Best integration project", "SA"),
        ],
    ),
    (
        2015,
        "BH",
        [
            ("أفضل خدمة إلكترونية", "Best e-service", "QA"),
            ("أفضل بوابة حكومية", "Best government portal", "BH"),
            ("أفضل تطبيق للهاتف المحمول", "Best mobile application", "KW"),
        ],
    ),
]

STANDARDS = [
    (
        "GCC-PORTAL-01",
        "portals",
        2014,
        "معايير البوابات الرسمية للدول الأعضاء",
        "Standards for the member states' official portals",
        "وضعت اللجنة التنفيذية معايير للبوابات الرسمية للدول: الهوية، واللغتان العربية والإنجليزية، وتصنيف الخدمات.",
        "The executive committee set standards for the states' official portals: identity, Arabic and English, service classification.",
        False,
    ),
    (
        "GCC-INTEROP-01",
        "interoperability",
        2014,
        "تبادل الرسائل الموقعة بين الجهات",
        "Signed message exchange between agencies",
        "رسائل JWS موقعة بشهادات X.509 صادرة عن الجذر الخليجي، وإيصال موقع لكل رسالة.",
        "JWS messages signed with X.509 certificates from the GCC root, with a signed receipt for every message.",
        True,
    ),
    (
        "GCC-SEC-01",
        "security",
        2015,
        "الحد الأدنى لأمن المعلومات في الخدمات الإلكترونية",
        "Minimum information security for e-services",
        "فحص أمني دوري، ومركز تعافٍ من الكوارث، وسياسة لأمن المعلومات.",
        "Periodic security scanning, a disaster-recovery site, and an information-security policy.",
        True,
    ),
    (
        "GCC-ACC-01",
        "accessibility",
        2015,
        "إتاحة البوابات لذوي الإعاقة",
        "Accessible portals",
        "الالتزام بإرشادات WCAG 2.1 المستوى AA.",
        "Conformance with WCAG 2.1 level AA.",
        True,
    ),
]

PRACTICES: list[dict[str, Any]] = [
    dict(
        id="kw-social-loan",
        state="KW",
        sector="finance",
        year=2013,
        tags=["integration", "loans", "portal"],
        title_ar="القرض الاجتماعي: أول خدمة متكاملة بين الجهات",
        title_en="The social loan: a first integrated cross-agency service",
        summary_ar="ربط بنك الائتمان الكويتي بالجهات الأخرى لتقديم طلب القرض الاجتماعي عبر البوابة الرسمية دون مراجعة.",
        summary_en="The Kuwait Credit Bank linked up with other agencies so the social loan can be requested on the official portal without a visit.",
        body_ar="<p>تجمع الخدمة البيانات من الجهات المعنية تلقائياً، فلا يحتاج المواطن إلى تقديم شهادات ورقية.</p>",
        body_en="<p>The service gathers data from the agencies concerned automatically, so citizens no longer bring paper certificates.</p>",
        outcomes_ar="<ul><li>أول خدمة متكاملة في الكويت</li></ul>",
        outcomes_en="<ul><li>Kuwait's first integrated service</li></ul>",
        source=KUNA,
        demo=False,
    ),
    dict(
        id="kw-fire-kiosks",
        state="KW",
        sector="interior",
        year=2014,
        tags=["kiosk", "licences", "self-service"],
        title_ar="تراخيص الإطفاء عبر أجهزة الخدمة الذاتية",
        title_en="Fire-service licences from self-service kiosks",
        summary_ar="أجهزة خدمة ذاتية موزعة في أنحاء الكويت تصدر تراخيص الإطفاء.",
        summary_en="Self-service devices placed across Kuwait issue fire-service licences.",
        body_ar="<p>توزيع الأجهزة في المناطق يختصر وقت المراجعين ويخفف الضغط على المكاتب. وتقدم بلدية الكويت بالطريقة نفسها خدمات إلكترونية لتجديد الرخص والإعلانات.</p>",
        body_en="<p>Spreading the devices across districts saves applicants' time and relieves the offices. Kuwait Municipality offers e-services in the same spirit to renew licences and advertisements.</p>",
        source=KUNA,
        demo=False,
    ),
    dict(
        id="sa-ppp-revenue-sharing",
        state="SA",
        sector="ict",
        year=2004,
        tags=["partnership", "private sector", "policy"],
        title_ar="الشراكة مع القطاع الخاص على أساس تقاسم الإيرادات",
        title_en="Private-sector partnership on a revenue-sharing basis",
        summary_ar="قرار مجلس الوزراء رقم ١١٠ وضع قواعد الشراكة مع القطاع الخاص في الخدمات الإلكترونية الحكومية.",
        summary_en="Council of Ministers decision no. 110 set the rules for partnering with the private sector on government e-services.",
        body_ar="<p>تبعت القرارَ ورشة عمل مع الإسكوا ومعهد IP3 في الرياض لنقل الخبرة في نماذج الشراكة.</p>",
        body_en="<p>A workshop with UN ESCWA and the IP3 institute in Riyadh followed, to share experience of partnership models.</p>",
        source=PRESS_SA,
        demo=False,
    ),
    dict(
        id="sa-training-tracks",
        state="SA",
        sector="ict",
        year=2012,
        tags=["training", "awareness", "capacity building"],
        title_ar="التدريب في ثلاثة مسارات وحملات التوعية",
        title_en="Training in three tracks and awareness campaigns",
        summary_ar="تدريب المستخدمين ومتخصصي التقنية والقادة، مع مبادرة الحاسب المنزلي وحملة توعية عند إطلاق كل خدمة.",
        summary_en="Training for users, IT specialists and leaders, with a home-computer initiative and a campaign at each service launch.",
        body_ar="<p>يربط البرنامج التدريب بإطلاق الخدمات حتى يجد المستخدم الخدمة ويعرف كيف يستعملها.</p>",
        body_en="<p>The programme ties training to service launches so users both find a service and know how to use it.</p>",
        source=PRESS_SA,
        demo=False,
    ),
    dict(
        id="sa-phased-services",
        state="SA",
        sector="ict",
        year=2012,
        tags=["phased launch", "services", "planning"],
        title_ar="إطلاق الخدمات على مجموعات متتالية",
        title_en="Launching services in successive groups",
        summary_ar="تسليم أول ١٥٠ خدمة على ثلاث مجموعات ضمن خطة خمسية.",
        summary_en="The first 150 services delivered in three groups within a five-year plan.",
        body_ar="<p>تتيح المجموعات المتتالية قياس الإقبال وتحسين الخدمات قبل المجموعة التالية، وقد سُلّمت المجموعتان الأولى والثانية والثالثة قيد الإعداد.</p>",
        body_en="<p>Successive groups let the programme measure take-up and improve services before the next group; the first and second groups are delivered and the third is in preparation.</p>",
        source=PRESS_SA,
        demo=False,
    ),
    dict(
        id="qa-knowledge-portal",
        state="QA",
        sector="ict",
        year=2014,
        tags=["knowledge management", "portal", "GCC"],
        title_ar="بوابة إدارة المعرفة المشتركة بين دول المجلس",
        title_en="A knowledge-management portal shared by the GCC states",
        summary_ar="تطوير بوابة لتبادل التجارب الناجحة بين الدول الأعضاء.",
        summary_en="Developing a portal where the member states share their successful experiences.",
        body_ar="<p>تجمع البوابة التجارب الناجحة باللغتين العربية والإنجليزية، وتتيح البحث فيها حسب الدولة والقطاع، ليستفيد كل جهاز حكومي من تجارب نظرائه في الدول الأعضاء.</p>",
        body_en="<p>The portal gathers successful experiences in Arabic and English, searchable by state and sector, so each government body can learn from its peers in the other member states.</p>",
        source=KUNA,
        demo=False,
    ),
    dict(
        id="ae-mobile-first",
        state="AE",
        sector="transport",
        year=2013,
        tags=["mobile", "apps", "services"],
        title_ar="الخدمات الحكومية عبر الهاتف المحمول أولاً",
        title_en="Mobile-first government services",
        summary_ar="تحويل الخدمات الأكثر طلباً إلى تطبيقات للهواتف الذكية.",
        summary_en="Turning the most requested services into smartphone apps.",
        body_ar="<p>مثال توضيحي: تُصمَّم الخدمة للهاتف المحمول أولاً ثم للويب، فتُختصر النماذج إلى ما لا يمكن معرفته من السجلات الحكومية، ويُرسل إشعار عند كل تغيير في حالة الطلب.</p><p>تبدأ الجهة بالخدمات الأكثر طلباً، وتقيس الإقبال عليها قبل تحويل غيرها.</p>",
        body_en="<p>An illustrative example: each service is designed for the phone first and then for the web, forms are cut down to what government records cannot already tell, and a notification follows every change in a request's status.</p><p>The agency starts with the most requested services and measures take-up before converting others.</p>",
        outcomes_ar="<ul><li>نماذج أقصر على الشاشة الصغيرة</li><li>متابعة حالة الطلب دون مراجعة</li></ul>",
        outcomes_en="<ul><li>Shorter forms on a small screen</li><li>Request status followed without a visit</li></ul>",
        demo=True,
    ),
    dict(
        id="bh-unified-payment",
        state="BH",
        sector="finance",
        year=2013,
        tags=["e-payment", "payments"],
        title_ar="بوابة دفع إلكتروني موحدة للجهات الحكومية",
        title_en="One e-payment gateway for government agencies",
        summary_ar="بوابة دفع واحدة تخدم جميع الجهات وتقلل تكاليف الربط مع البنوك.",
        summary_en="One payment gateway for every agency, cutting the cost of connecting to banks.",
        body_ar="<p>مثال توضيحي: بدلاً من أن تربط كل جهة حكومية أنظمتها بكل بنك على حدة، تربط بوابة دفع إلكتروني واحدة الجهات جميعها بالبنوك وشبكات البطاقات، ويدفع المستخدم رسوم أي خدمة بالطريقة نفسها.</p><p>تتولى البوابة التسوية اليومية مع كل جهة، فتعرف الجهة ما حُصّل لها دون مطابقة يدوية.</p>",
        body_en="<p>An illustrative example: instead of each government agency connecting its systems to every bank, one e-payment gateway connects all agencies to the banks and card networks, and people pay the fees of any service the same way.</p><p>The gateway settles with each agency daily, so an agency knows what was collected for it without manual reconciliation.</p>",
        outcomes_ar="<ul><li>ربط واحد بالبنوك بدلاً من ربط لكل جهة</li><li>طريقة دفع واحدة لكل الخدمات</li></ul>",
        outcomes_en="<ul><li>One connection to the banks instead of one per agency</li><li>One way to pay for every service</li></ul>",
        demo=True,
    ),
    dict(
        id="om-disaster-recovery",
        state="OM",
        sector="ict",
        year=2012,
        tags=["disaster recovery", "data centre", "security"],
        title_ar="مركز بيانات حكومي مع موقع للتعافي من الكوارث",
        title_en="A government data centre with a disaster-recovery site",
        summary_ar="استضافة الأنظمة الحكومية في مركز مشترك مع موقع تعافٍ احتياطي.",
        summary_en="Hosting government systems in a shared centre with a standby recovery site.",
        body_ar="<p>مثال توضيحي: تستضيف الجهات الحكومية أنظمتها في مركز بيانات مشترك تديره جهة واحدة، بمعايير موحدة للأمن والتشغيل، مع موقع احتياطي في مدينة أخرى يتولى الخدمة إذا تعطل المركز الرئيسي.</p><p>يُختبر الانتقال إلى الموقع الاحتياطي دورياً، وتُنشر نتائج الاختبار للجهات المستضيفة.</p>",
        body_en="<p>An illustrative example: government agencies host their systems in a shared data centre run by one body, with common security and operating standards, and a standby site in another city takes over if the main centre fails.</p><p>Failover to the standby site is tested regularly and the results are shared with the hosted agencies.</p>",
        outcomes_ar="<ul><li>استمرار الخدمات عند تعطل المركز الرئيسي</li><li>معايير أمن موحدة للجهات المستضيفة</li></ul>",
        outcomes_en="<ul><li>Services continue when the main centre fails</li><li>Common security standards for hosted agencies</li></ul>",
        demo=True,
    ),
    dict(
        id="jo-single-sign-on",
        state=None,
        sector="ict",
        year=2015,
        tags=["single sign-on", "portal", "personalisation"],
        title_ar="بوابة تفاعلية بتسجيل دخول موحد",
        title_en="An interactive portal with single sign-on",
        summary_ar="تجربة الأردن: بوابة حكومة إلكترونية بتسجيل دخول موحد لجميع الخدمات وصفحة يرتبها كل مستخدم.",
        summary_en="Jordan's experience: an e-government portal with single sign-on to all e-services and a page each user arranges.",
        body_ar="<p>موّلت المنحة الخليجية جزءاً من البرنامج، الذي يشمل مركز عمليات مع التعافي من الكوارث وأدوات الفحص الأمني، وبنية مشتركة لتبادل البيانات بين الدوائر وسحابة حكومية ومركز اتصال وطني وبوابة رسائل قصيرة.</p>",
        body_en="<p>Part of the programme was funded by the Gulf grant; it includes an operations centre with disaster recovery and security-scanning tools, and shared infrastructure for data exchange between departments, a government cloud, a national contact centre and an SMS gateway.</p>",
        source=ALGHAD,
        demo=False,
    ),
    dict(
        id="jo-priority-services",
        state=None,
        sector="health",
        year=2015,
        tags=["priority services", "e-payment", "licences"],
        title_ar="خدمات ذات أولوية لكل وزارة",
        title_en="Priority services named by each ministry",
        summary_ar="تسمي كل وزارة من ٣ إلى ٥ خدمات ذات أولوية، ضمن خطة من ٢٠ خدمة (١٥ شاملة بالكامل و٥ تطبيقات للهاتف).",
        summary_en="Each ministry names 3–5 priority services, within a plan of 20 e-services (15 fully end-to-end, 5 mobile apps).",
        body_ar="<p>رُبطت أربع خدمات بنظام الدفع الإلكتروني إي فواتيركم، واختيرت خدمتا ترخيص الممرضين وترخيص الصيدليات لوزارة الصحة.</p>",
        body_en="<p>Four services were linked to the e-fawateercom e-payment system, and the nurse-licence and pharmacy-licence services were chosen for the health ministry.</p>",
        source=ALGHAD,
        demo=False,
    ),
    dict(
        id="ye-national-catalogue",
        state=None,
        sector="ict",
        year=2015,
        tags=["catalogue", "standards", "security policy"],
        title_ar="دليل وطني للخدمات ومعايير الأتمتة",
        title_en="A national service catalogue and automation standards",
        summary_ar="تجربة اليمن: تنسيق ربط الشبكات والأتمتة، ومنصة خدمات وطنية موحدة، ومعايير للأتمتة وسياسة لأمن المعلومات.",
        summary_en="Yemen's experience: coordinated network linking and automation, a unified national services platform, automation standards and an information-security policy.",
        body_ar="<p>تنسق وزارتا الاتصالات والخدمة المدنية العمل، ويصدر دليل وطني للخدمات القياسية والمساندة.</p>",
        body_en="<p>The ministries of communications and civil service coordinate the work, and a national catalogue of standard and support services is issued.</p>",
        source=PRESS_YE,
        demo=False,
    ),
]


#: Labels of the demo practices' tags (tag: Arabic, English); the secretariat edits them under "Tag labels".
TAG_LABELS: dict[str, tuple[str, str]] = {
    "integration": ("التكامل بين الجهات", "Integration"),
    "loans": ("القروض", "Loans"),
    "portal": ("البوابات الإلكترونية", "Portals"),
    "kiosk": ("أجهزة الخدمة الذاتية", "Kiosks"),
    "licences": ("التراخيص", "Licences"),
    "self-service": ("الخدمة الذاتية", "Self-service"),
    "partnership": ("الشراكة", "Partnership"),
    "private sector": ("القطاع الخاص", "Private sector"),
    "policy": ("السياسات", "Policy"),
    "training": ("التدريب", "Training"),
    "awareness": ("التوعية", "Awareness"),
    "capacity building": ("بناء القدرات", "Capacity building"),
    "phased launch": ("الإطلاق على مراحل", "Phased launch"),
    "services": ("الخدمات", "Services"),
    "planning": ("التخطيط", "Planning"),
    "knowledge management": ("إدارة المعرفة", "Knowledge management"),
    "GCC": ("مجلس التعاون الخليجي", "GCC"),
    "mobile": ("الهاتف المحمول", "Mobile"),
    "apps": ("التطبيقات", "Apps"),
    "e-payment": ("الدفع الإلكتروني", "E-payment"),
    "payments": ("المدفوعات", "Payments"),
    "disaster recovery": ("التعافي من الكوارث", "Disaster recovery"),
    "data centre": ("مراكز البيانات", "Data centres"),
    "security": ("أمن المعلومات", "Security"),
    "single sign-on": ("تسجيل الدخول الموحد", "Single sign-on"),
    "personalisation": ("التخصيص", "Personalisation"),
    "priority services": ("الخدمات ذات الأولوية", "Priority services"),
    "catalogue": ("دليل الخدمات", "Service catalogue"),
    "standards": ("المعايير", "Standards"),
    "security policy": ("سياسة أمن المعلومات", "Security policy"),
}


def load_demo(session: Session) -> dict[str, int]:
    """Create demo records that are missing (by natural key); returns counts of what was added."""
    added = {
        "states": 0,
        "services": 0,
        "achievements": 0,
        "awards": 0,
        "practices": 0,
        "standards": 0,
        "tag_labels": 0,
    }
    for data in STATES:
        st = session.get(State, data["code"])
        if st is None:
            st = State(**data)
            st.ranks = [EgdiRank(year=y, rank=r, source_ar=s[0], source_en=s[1]) for y, r, s in RANKS[data["code"]]]
            session.add(st)
            added["states"] += 1
        else:  # created by ``portal init`` (reference data): fill only what is still empty
            for key in ("programme_ar", "programme_en", "readiness_ar", "readiness_en"):
                if not getattr(st, key):
                    setattr(st, key, data[key])
            if not st.ranks:
                st.ranks = [EgdiRank(year=y, rank=r, source_ar=s[0], source_en=s[1]) for y, r, s in RANKS[data["code"]]]
    session.flush()
    for code, plan in STAGE_PLAN.items():
        for i, (sector, ag_ar, ag_en, n_ar, n_en) in enumerate(SERVICE_TEMPLATES):
            if session.scalar(select(Service).where(Service.state_code == code, Service.name_en == n_en)):
                continue
            stage = STAGES[plan[i]]
            session.add(
                Service(
                    state_code=code,
                    sector=sector,
                    agency_ar=ag_ar,
                    agency_en=ag_en,
                    name_ar=n_ar,
                    name_en=n_en,
                    maturity=stage,
                    channels="web,mobile" if plan[i] >= 2 else "web",
                    e_payment=plan[i] >= 2,
                    end_to_end=plan[i] == 3,
                    ministry_priority=i % 3 == 0,
                    launch_phase=1 + i % 3,
                    cross_border=plan[i] == 3 and sector in ("interior", "commerce"),
                    network_service=NETWORK_SERVICES.get((code, n_en), ""),
                    as_of=date(2015, 1, 31),
                    is_demo=True,
                )
            )
            added["services"] += 1
    for data in REPORTED_SERVICES:
        if not session.scalar(
            select(Service).where(Service.state_code == data["state_code"], Service.name_en == data["name_en"])
        ):
            fields = {k: v for k, v in data.items() if k != "source"}
            source = data.get("source", NONE)
            session.add(
                Service(**fields, source_ar=source[0], source_en=source[1], as_of=date(2014, 11, 30), is_demo=False)
            )
            added["services"] += 1
    for code, d, cat, t_ar, t_en, b_ar, b_en, source in ACHIEVEMENTS:
        if session.scalar(select(Achievement).where(Achievement.title_en == t_en)):
            continue
        session.add(
            Achievement(
                state_code=code,
                date=d,
                category=cat,
                title_ar=t_ar,
                title_en=t_en,
                body_ar=b_ar,
                body_en=b_en,
                source_ar=source[0],
                source_en=source[1],
                is_demo=not source[1],
                status="published",
                published_at=datetime(d.year, d.month, d.day, 9, 0),
            )
        )
        added["achievements"] += 1
    for year, host, winners in AWARDS:
        if session.scalar(select(AwardEdition).where(AwardEdition.year == year)):
            continue
        edition = AwardEdition(
            year=year,
            host_code=host,
            is_demo=True,
            source_ar=KUNA[0],
            source_en=KUNA[1],
            notes_ar=(
                f"دورة استضافتها {_name_ar(host)}. تعاقبُ الدول المستضيفة (عُمان ثم الكويت ثم الإمارات ثم "
                "البحرين) واردٌ في التقارير، أما سنة الدورة وفئاتها والدول الفائزة فبيانات توضيحية."
            ),
            notes_en=(
                f"An edition hosted by {_name_en(host)}. The order of host states (Oman, Kuwait, the UAE, then "
                "Bahrain) is as reported; the edition year, its categories and the winning states are "
                "demonstration data."
            ),
        )
        # The winning bodies' names are not known: the winner is left out and the page names the state.
        edition.winners = [
            AwardWinner(category_ar=c_ar, category_en=c_en, state_code=w, winner_ar="", winner_en="")
            for c_ar, c_en, w in winners
        ]
        session.add(edition)
        added["awards"] += 1
    for code, cat, year, t_ar, t_en, b_ar, b_en, demo in STANDARDS:
        if session.scalar(select(Standard).where(Standard.code == code)):
            continue
        session.add(
            Standard(
                code=code,
                category=cat,
                year=year,
                title_ar=t_ar,
                title_en=t_en,
                body_ar=b_ar,
                body_en=b_en,
                is_demo=demo,
            )
        )
        added["standards"] += 1
    known_tags = set(session.scalars(select(TagLabel.slug)))
    for tag, (label_ar, label_en) in TAG_LABELS.items():
        if tag_key(tag) not in known_tags:  # a label the secretariat changed stays as they left it
            session.add(TagLabel(slug=tag, label_ar=label_ar, label_en=label_en))
            known_tags.add(tag_key(tag))
            added["tag_labels"] += 1
    session.flush()
    practices: dict[str, Practice] = {}
    for i, data in enumerate(PRACTICES):
        existing = session.scalar(select(Practice).where(Practice.public_id == data["id"]))
        if existing is not None:
            practices[data["id"]] = existing
            continue
        p = Practice(
            public_id=data["id"],
            state_code=data["state"],
            sector=data["sector"],
            year=data["year"],
            tags=data["tags"],
            title_ar=data["title_ar"],
            title_en=data["title_en"],
            summary_ar=data["summary_ar"],
            summary_en=data["summary_en"],
            body_ar=data["body_ar"],
            body_en=data["body_en"],
            outcomes_ar=data.get("outcomes_ar", ""),
            outcomes_en=data.get("outcomes_en", ""),
            source_ar=data.get("source", NONE)[0],
            source_en=data.get("source", NONE)[1],
            is_demo=data["demo"],
            status="published",
            published_at=datetime(2015, 1, 1 + i, 9, 0),
        )
        session.add(p)
        practices[data["id"]] = p
        added["practices"] += 1
    session.flush()
    links = [
        ("jo-single-sign-on", "qa-knowledge-portal"),
        ("kw-social-loan", "jo-single-sign-on"),
        ("sa-phased-services", "jo-priority-services"),
        ("bh-unified-payment", "jo-priority-services"),
    ]
    for a, b in links:
        pa, pb = practices.get(a), practices.get(b)
        if pa is not None and pb is not None and pb not in pa.related:
            pa.related.append(pb)
    session.commit()
    return added


def _name_ar(code: str) -> str:
    return STATE_NAMES[code][0]


def _name_en(code: str) -> str:
    return STATE_NAMES[code][1]
