"""Names, streets and postcodes for synthetic employees (common Norwegian names; the combinations are random)."""

from __future__ import annotations

FEMALE = (
    "Anne", "Inger", "Kari", "Marit", "Ingrid", "Liv", "Eva", "Berit", "Astrid", "Bjørg", "Hilde", "Anna", "Solveig",
    "Marianne", "Randi", "Ida", "Nina", "Maria", "Elisabeth", "Kristin", "Silje", "Tone", "Camilla", "Hanne",
    "Ingeborg", "Julie", "Nora", "Emma", "Sara", "Thea", "Ragnhild", "Mette", "Heidi", "Tove", "Guro", "Linn",
    "Mari", "Sigrid", "Vilde", "Karoline", "Aisha", "Fatima", "Maja", "Ane",
)
MALE = (
    "Jan", "Per", "Bjørn", "Ole", "Lars", "Kjell", "Knut", "Arne", "Svein", "Thomas", "Hans", "Geir", "Tor",
    "Morten", "Terje", "Odd", "Erik", "Martin", "Andreas", "John", "Anders", "Rune", "Trond", "Tore", "Jonas",
    "Magnus", "Henrik", "Kristian", "Espen", "Øyvind", "Sindre", "Eirik", "Even", "Mats", "Sander", "Ali",
    "Mohammed", "Jakob", "Emil", "Håkon", "Stian", "Vegard", "Aksel", "Sivert",
)
SURNAMES = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen",
    "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen", "Johannessen", "Andreassen", "Jacobsen",
    "Dahl", "Jørgensen", "Halvorsen", "Henriksen", "Lund", "Sørensen", "Jakobsen", "Moen", "Gundersen", "Iversen",
    "Strand", "Solberg", "Svendsen", "Eide", "Knutsen", "Martinsen", "Paulsen", "Bakken", "Kristoffersen",
    "Mathisen", "Lie", "Amundsen", "Nguyen", "Rasmussen", "Ali", "Lunde", "Solheim", "Berge", "Moe", "Nygård",
    "Bakke", "Kristensen", "Fredriksen", "Holm", "Lien", "Hauge", "Christensen", "Andresen", "Nielsen", "Knudsen",
    "Evensen", "Sæther", "Aas", "Myhre", "Hanssen", "Ahmed", "Haugland", "Thomassen", "Sivertsen", "Simonsen",
    "Danielsen", "Berntsen", "Sandvik", "Rønning", "Arnesen", "Antonsen", "Næss", "Vik", "Haug", "Ellingsen",
    "Thorsen", "Edvardsen", "Birkeland", "Isaksen", "Gulbrandsen", "Ruud", "Aasen", "Strøm", "Myklebust", "Tangen",
    "Ødegård", "Eliassen", "Helland", "Bøe", "Jenssen", "Aune", "Mikkelsen", "Tveit", "Brekke", "Abrahamsen",
    "Madsen", "Kvam", "Bjerke", "Wold", "Gjerde", "Stene", "Hoff", "Flatmo", "Lorentzen", "Hegge", "Melby",
)
STREETS = (
    "Kongens gate", "Munkegata", "Olav Tryggvasons gate", "Prinsens gate", "Innherredsveien", "Elgeseter gate",
    "Byåsveien", "Bygdøy allé", "Klæbuveien", "Jonsvannsveien", "Lademoen", "Strindveien", "Kong Øysteins veg",
    "Ranheimsveien", "Heimdalsvegen", "Saupstadringen", "Tillerbruvegen", "Østre Rosten", "Nardovegen",
    "Moholt allé", "Bromstadvegen", "Ørjaveita", "Nedre Møllenberg gate", "Mellomveien", "Persaunvegen",
    "Holtermanns veg", "Fjordgata", "Thomas Angells gate", "Erling Skakkes gate", "Dronningens gate",
    "Kystadvegen", "Kattemvegen", "Flatåsvegen", "Hallsetvegen", "Sverresborg allé", "Stavne-Leangen-banen",
    "Brøsetvegen", "Othilienborg", "Lerkendalsveien", "Valentinlystvegen",
)
# (postcode, post town, weight): most employees live in Trondheim, some commute from neighbouring municipalities.
POSTCODES = (
    ("7010", "TRONDHEIM", 3), ("7011", "TRONDHEIM", 3), ("7012", "TRONDHEIM", 3), ("7013", "TRONDHEIM", 3),
    ("7014", "TRONDHEIM", 3), ("7015", "TRONDHEIM", 3), ("7016", "TRONDHEIM", 3), ("7018", "TRONDHEIM", 3),
    ("7019", "TRONDHEIM", 3), ("7020", "TRONDHEIM", 3), ("7021", "TRONDHEIM", 3), ("7022", "TRONDHEIM", 3),
    ("7023", "TRONDHEIM", 3), ("7024", "TRONDHEIM", 3), ("7025", "TRONDHEIM", 3), ("7026", "TRONDHEIM", 3),
    ("7027", "TRONDHEIM", 3), ("7028", "TRONDHEIM", 3), ("7029", "TRONDHEIM", 3), ("7030", "TRONDHEIM", 3),
    ("7031", "TRONDHEIM", 3), ("7032", "TRONDHEIM", 3), ("7033", "TRONDHEIM", 3), ("7034", "TRONDHEIM", 3),
    ("7035", "TRONDHEIM", 3), ("7036", "TRONDHEIM", 3), ("7037", "TRONDHEIM", 3), ("7038", "TRONDHEIM", 3),
    ("7039", "TRONDHEIM", 3), ("7040", "TRONDHEIM", 3), ("7041", "TRONDHEIM", 3), ("7042", "TRONDHEIM", 3),
    ("7043", "TRONDHEIM", 3), ("7044", "TRONDHEIM", 3), ("7045", "TRONDHEIM", 3), ("7046", "TRONDHEIM", 3),
    ("7047", "TRONDHEIM", 3), ("7048", "TRONDHEIM", 3), ("7049", "TRONDHEIM", 3), ("7050", "TRONDHEIM", 3),
    ("7051", "TRONDHEIM", 3), ("7052", "TRONDHEIM", 3), ("7053", "RANHEIM", 3), ("7054", "RANHEIM", 3),
    ("7056", "RANHEIM", 2), ("7057", "JONSVATNET", 1), ("7058", "JAKOBSLI", 2), ("7066", "TRONDHEIM", 2),
    ("7067", "TRONDHEIM", 2), ("7068", "TRONDHEIM", 2), ("7069", "TRONDHEIM", 2), ("7070", "BOSBERG", 1),
    ("7072", "HEIMDAL", 3), ("7074", "SPONGDAL", 1), ("7075", "TILLER", 3), ("7078", "SAUPSTAD", 3),
    ("7079", "FLATÅSEN", 3), ("7080", "HEIMDAL", 3), ("7081", "SJETNEMARKA", 2), ("7082", "KATTEM", 2),
    ("7083", "LEINSTRAND", 1), ("7088", "HEIMDAL", 2), ("7089", "HEIMDAL", 2), ("7091", "TILLER", 2),
    ("7092", "TILLER", 2), ("7093", "TILLER", 2), ("7097", "SAUPSTAD", 2), ("7098", "SAUPSTAD", 2),
    ("7099", "FLATÅSEN", 2), ("7540", "KLÆBU", 2), ("7550", "HOMMELVIK", 1), ("7560", "VIKHAMMER", 1),
    ("7500", "STJØRDAL", 1), ("7224", "MELHUS", 1), ("7234", "LER", 1), ("7300", "ORKANGER", 1),
)
DIAGNOSIS_GROUPS = (
    ("Musculoskeletal (L)", 0.36), ("Psychological (P)", 0.22), ("Respiratory (R)", 0.12),
    ("General and unspecified (A)", 0.08), ("Pregnancy-related (W)", 0.05), ("Digestive (D)", 0.04),
    ("Neurological (N)", 0.04), ("Cardiovascular (K)", 0.03), ("Other", 0.06),
)
SELF_CERTIFIED_DIAGNOSIS = "Not recorded (self-certified)"
