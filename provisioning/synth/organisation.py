"""The municipality's organisation, after the structure Trondheim presents in its data-sharing talk:
8 city council areas, 19 service areas and 200+ units, with sick-leave levels that differ by service
area (care and kindergartens high, administration low), a few units near 20 % and a few tiny units
(fewer than 5 employees) where any table by unit discloses individuals."""

from __future__ import annotations

from dataclasses import dataclass

# council area -> service area -> (typical unit size, base sick-leave rate, unit name patterns or names)
NEIGHBOURHOODS = [
    "Byåsen", "Heimdal", "Lade", "Moholt", "Saupstad", "Tiller", "Ranheim", "Strinda", "Lerkendal", "Nardo",
    "Kattem", "Charlottenlund", "Østbyen", "Midtbyen", "Flatåsen", "Sjetnemarka", "Kolstad", "Hallset",
    "Romolslia", "Risvollan", "Nidarvoll", "Singsaker", "Ila", "Bakklandet", "Rosenborg", "Åsvang", "Huseby",
    "Stavset", "Leira", "Steindal", "Brundalen", "Okstad", "Tonstad", "Ugla", "Sverresborg", "Havstad",
    "Berg", "Rye", "Spongdal", "Byneset", "Jakobsli", "Ringvål", "Vikåsen", "Sunnland", "Breidablikk",
    "Blussuvoll", "Lilleby", "Solbakken", "Åsheim", "Eberg", "Bispehaugen", "Kalvskinnet", "Markaplassen",
    "Hårstad", "Klæbu", "Tanem", "Sandmoen", "Selsbakk", "Bratsberg", "Angelltrøa", "Stabbursmoen", "Othilienborg",
]


@dataclass(frozen=True)
class ServiceArea:
    council_area: str
    name: str
    unit_size: int  # typical number of employees per unit
    sick_rate: float  # base share of contracted days lost to sick leave
    units: tuple[str, ...]
    female_share: float
    titles: tuple[tuple[str, float], ...]


def _places(pattern: str, count: int, offset: int = 0) -> tuple[str, ...]:
    return tuple(pattern.format(NEIGHBOURHOODS[(offset + i) % len(NEIGHBOURHOODS)]) for i in range(count))


CARE = (("Nurse", 0.32), ("Health worker", 0.30), ("Assistant", 0.22), ("Occupational therapist", 0.05),
        ("Physiotherapist", 0.04), ("Department leader", 0.05), ("Unit manager", 0.02))
SOCIAL = (("Social worker", 0.30), ("Special needs worker", 0.25), ("Assistant", 0.25), ("Psychologist", 0.08),
          ("Advisor", 0.08), ("Unit manager", 0.04))
OFFICE = (("Advisor", 0.40), ("Senior advisor", 0.20), ("Consultant", 0.25), ("Head of section", 0.10), ("Unit manager", 0.05))
TECH = (("Engineer", 0.25), ("Operator", 0.35), ("Craftsman", 0.20), ("Advisor", 0.12), ("Head of section", 0.05),
        ("Unit manager", 0.03))

SERVICE_AREAS: tuple[ServiceArea, ...] = (
    ServiceArea("Health and care", "Nursing homes and assisted living facilities", 110, 0.115,
                _places("{} health and welfare centre", 28), 0.86, CARE),
    ServiceArea("Health and care", "Homebased services", 85, 0.11, _places("Home-based services {}", 16, 28), 0.84, CARE),
    ServiceArea("Health and care", "Medical services", 45, 0.08,
                ("Emergency room", "Municipal doctor service", "Physiotherapy service", "Occupational therapy service",
                 "Health stations", "Infection control office"), 0.75,
                (("Doctor", 0.25), ("Nurse", 0.35), ("Physiotherapist", 0.15), ("Secretary", 0.15), ("Unit manager", 0.10))),
    ServiceArea("Social services", "Habilitation and administration", 70, 0.105,
                _places("Habilitation services {}", 8, 3), 0.78, SOCIAL),
    ServiceArea("Social services", "Child and family services", 55, 0.085,
                _places("Child and family services {}", 8, 11), 0.82, SOCIAL),
    ServiceArea("Social services", "Mental health, work and inclusion", 50, 0.095,
                _places("Mental health and inclusion {}", 7, 19), 0.74, SOCIAL),
    ServiceArea("Education", "School", 60, 0.07, _places("{} school", 60, 2), 0.72,
                (("Teacher", 0.62), ("Teaching assistant", 0.22), ("Special needs teacher", 0.08), ("Advisor", 0.03),
                 ("Head teacher", 0.05))),
    ServiceArea("Education", "Kindergartens", 28, 0.11, _places("{} kindergarten", 40, 30), 0.92,
                (("Kindergarten teacher", 0.40), ("Childcare worker", 0.30), ("Assistant", 0.26),
                 ("Head of kindergarten", 0.04))),
    ServiceArea("Education", "Coping and inclusion", 40, 0.095,
                ("Educational-psychological service", "Adult education centre", "Reception school",
                 "Hospital school", "Resource centre for inclusion", "Interpreting service"), 0.76,
                (("Teacher", 0.35), ("Psychologist", 0.15), ("Advisor", 0.30), ("Assistant", 0.15), ("Unit manager", 0.05))),
    ServiceArea("City development", "Municipal engineering", 90, 0.075,
                ("Water and sewage", "Roads and streets", "Waste management", "Engineering projects"), 0.25, TECH),
    ServiceArea("City development", "City maintenance services", 80, 0.085,
                ("Park maintenance", "Street maintenance", "Vehicle workshop"), 0.2, TECH),
    ServiceArea("City development", "Planning and building services", 40, 0.05,
                ("Building permits office", "Maps and architecture unit", "City planning office"), 0.55,
                (("Caseworker", 0.40), ("Architect", 0.20), ("Engineer", 0.20), ("Advisor", 0.15), ("Unit manager", 0.05))),
    ServiceArea("Finance", "Trondheim property", 90, 0.085, ("Property operations", "Property projects", "Cleaning services"), 0.45,
                (("Cleaner", 0.35), ("Caretaker", 0.30), ("Engineer", 0.15), ("Advisor", 0.15), ("Unit manager", 0.05))),
    ServiceArea("Finance", "Finance and HR services", 45, 0.05,
                ("Ownership unit", "Accounting services", "Economy services", "HR unit", "Trondheim DIGITAL",
                 "Occupational health service"), 0.58,
                (("Advisor", 0.35), ("Accountant", 0.20), ("IT developer", 0.20), ("HR advisor", 0.15), ("Unit manager", 0.10))),
    ServiceArea("Environment, business and mobility", "Environment, business and mobility services", 30, 0.05,
                ("Procurement service", "Climate and environment unit", "Mobility and transportation unit",
                 "Business and societal development unit", "Trondheim parking"), 0.45,
                (("Advisor", 0.45), ("Consultant", 0.25), ("Parking warden", 0.20), ("Unit manager", 0.10))),
    ServiceArea("Culture, sports and outdoor activities", "Culture and libraries", 50, 0.06,
                ("Trondheim public library", "Culture unit", "Trondheim culture school"), 0.62,
                (("Librarian", 0.35), ("Music teacher", 0.30), ("Culture worker", 0.25), ("Unit manager", 0.10))),
    ServiceArea("Culture, sports and outdoor activities", "Sports and outdoor activities", 40, 0.065,
                ("Sports and outdoor activities unit", "Swimming pools"), 0.45,
                (("Operator", 0.45), ("Advisor", 0.25), ("Lifeguard", 0.25), ("Unit manager", 0.05))),
    ServiceArea("City councillor's department", "Administration and management support", 35, 0.045,
                ("Administration and management support", "Legal services", "Public safety and emergency preparedness"),
                0.6, (("Advisor", 0.45), ("Lawyer", 0.20), ("Consultant", 0.25), ("Head of section", 0.10))),
    ServiceArea("City councillor's department", "Communication and employment services", 30, 0.05,
                ("Communication unit", "Employment services"), 0.62, OFFICE),
)

# Units so small that any table by unit identifies the people in them (service area, name).
TINY_UNITS = (
    ("Nursing homes and assisted living facilities", "Ombudsman for the elderly"),
    ("Medical services", "Refugee health liaison"),
    ("Mental health, work and inclusion", "Peer support office"),
    ("Coping and inclusion", "Sámi language liaison"),
    ("Finance and HR services", "Pension fund secretariat"),
    ("Administration and management support", "Youth council secretariat"),
    ("Administration and management support", "City archives reading room"),
    ("Culture and libraries", "Artist in residence office"),
)

# Units where sick leave runs near 20 % (the talk: "some units closer to 20 %").
HOTSPOTS = (
    "Saupstad health and welfare centre",
    "Home-based services Leira",
    "Ugla kindergarten",
    "Habilitation services Tiller",
    "Cleaning services",
    "Romolslia health and welfare centre",
)


@dataclass(frozen=True)
class Unit:
    council_area: str
    service_area: ServiceArea
    name: str
    tiny: bool


def units() -> list[Unit]:
    by_name = {s.name: s for s in SERVICE_AREAS}
    out = [Unit(s.council_area, s, u, False) for s in SERVICE_AREAS for u in s.units]
    out += [Unit(by_name[s].council_area, by_name[s], u, True) for s, u in TINY_UNITS]
    return out
