#!/usr/bin/env python3
"""Build Visual Buffet's built-in photo tag vocabulary, ``vocab/photo-tags.txt``.

The SigLIP plugin scores every image against each tag ("This is a photo of {tag}.") and by
default only evaluates the first ``max_candidates`` (1000) tags, so the ORDER of the file is
part of the product: the most useful tags for photographers and archivists come first.

Sources (see ``vocab/README.md`` for licences and commits):

- the Recognize Anything (RAM/RAM++) tag list, ``recognize-anything/ram_tag_list.txt``;
- the Places365 scene categories, ``places365/categories_places365.txt``;
- the SUN scene attributes, ``places365/labels_sunattribute.txt``;
- the hand-curated core list written in this file (``CORE_ESSENTIAL``, ``CORE_COMMON``).

Cleaning, applied to every source entry in this order:

1. normalise: strip, lowercase, ``_`` to space, collapse whitespace (Places365 paths such
   as ``/c/church/indoor`` are first turned into phrases by ``places_phrase``);
2. drop the entry if it is in ``BLOCKLIST`` (abstract, non-visual, verbs, trademarks,
   offensive or distressing, odd);
3. rewrite it through ``RENAMES`` (spelling fixes, natural phrasing, synonym merges);
4. drop it if an earlier tag has the same ``merge_key`` (spacing, hyphen, apostrophe and
   singular/plural variants: ``bird bath`` = ``birdbath``, ``ruin`` = ``ruins``), so the
   first spelling in priority order wins.

Ordering, from explicit priority tiers (a tag keeps its first, highest-priority position):

1. ``CORE_ESSENTIAL``: 150 hand-picked subjects every photo library needs;
2. ``CORE_COMMON``: 700 more hand-picked subjects, scenes, objects, events, styles and
   colours, grouped by theme (together with tier 3 they fill the default 1000);
3. Places365 scenes, in the dataset's order, except the niche scenes in ``DEFERRED``;
4. SUN attributes that survive the blocklist (activities and materials);
5. the remaining RAM tags, ranked by "family size": how many tags of the whole pool
   contain the tag as a whole-word phrase (``dog`` is in ``guard dog``, ``dog bed``, ...),
   a proxy for how basic and widely useful a concept is; ties go to shorter tags, then to
   RAM's own order;
6. the ``DEFERRED`` niche scenes.

The script is long because its curation tables are data; the logic is the last ~230
lines. Standard library only, deterministic. Curation slips (a tag both blocked and renamed,
a core tag listed twice) raise an error; ``--stats`` lists rules that no longer match any
source entry.

    python vocab/build_vocab.py            # rewrite vocab/photo-tags.txt
    python vocab/build_vocab.py --check    # exit 1 if the file is out of date
    python vocab/build_vocab.py --stats    # print counts and provenance to stderr

It also writes ``vocab/tag-parents.txt`` beside the output: the tags' categories as
``parent|child`` lines, from the curated table in ``vocab/categories.py`` (hierarchical
XMP keywords, docs/xmp.md); ``--check`` checks both files.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The sibling module with the category table (this script's folder is on sys.path).
from categories import check as check_categories
from categories import parent_lines

VOCAB_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = VOCAB_DIR / "photo-tags.txt"
PARENTS_NAME = "tag-parents.txt"  # written beside the output
# The raw lists live beside the repository checkout, not in it.
DEFAULT_SOURCES = Path(__file__).resolve().parents[2] / "shared" / "vocab-sources"
RAM_FILE = Path("recognize-anything") / "ram_tag_list.txt"
PLACES_FILE = Path("places365") / "categories_places365.txt"
SUN_FILE = Path("places365") / "labels_sunattribute.txt"


def _tags(block: str) -> tuple[str, ...]:
    """Split a block of comma-separated tags; ``#`` starts a comment that runs to line end."""
    tags: list[str] = []
    for line in block.splitlines():
        tags.extend(t.strip() for t in line.split("#", 1)[0].split(",") if t.strip())
    return tuple(tags)


def _pairs(block: str) -> dict[str, str]:
    """Parse ``old: new`` items (comma-separated, ``#`` comments) into a dict."""
    pairs: dict[str, str] = {}
    for item in _tags(block):
        old, new = (part.strip() for part in item.split(":"))
        if old in pairs:
            raise ValueError(f"rename of {old!r} is listed twice")
        pairs[old] = new
    return pairs


# --------------------------------------------------------------------------------------
# Tier 1: the essentials. Written for this project (most also appear in the sources).
# Order: people, animals, vehicles, nature, weather and light, city, interiors, food,
# objects, events, photographic kinds. A user who lowers max_candidates to ~200 still
# gets a sensible tagger.
CORE_ESSENTIAL = _tags("""
    person, people, man, woman, child, baby, boy, girl, family, couple, crowd, portrait,
    selfie, group photo,
    animal, dog, cat, puppy, kitten, bird, horse, cow, sheep, fish, insect, butterfly,
    duck, chicken, wildlife, pet,
    car, truck, bus, bicycle, motorcycle, train, airplane, boat, ship, vehicle, traffic,
    landscape, nature, tree, flower, plant, grass, forest, mountain, hill, beach, sea,
    ocean, lake, river, waterfall, sky, cloud, sunset, sunrise, snow, desert, field, meadow,
    garden, park, island, rock, sand, water, coast, cliff, valley,
    rain, fog, storm, rainbow, night, sun, moon, blue sky,
    city, cityscape, city street, street, building, house, skyscraper, bridge, road,
    architecture, church, castle, tower, city skyline, village,
    room, kitchen, bedroom, living room, bathroom, office, restaurant, store,
    food, meal, cake, pizza, bread, fruit, vegetable, coffee, drink, wine, beer, dessert,
    salad,
    table, chair, book, smartphone, computer, laptop, camera, bag, clock, window, door,
    lamp, sign, toy, bottle, cup,
    wedding, birthday party, party, concert, christmas, festival, sport,
    close-up, black and white, silhouette, reflection, aerial view, underwater, panorama,
    text, document, screenshot,
""")

# Tier 2: common subjects, grouped by theme; within a group, the more frequent first.
CORE_COMMON = _tags("""
    # people, body, roles you can see (uniforms, tools, poses)
    face, smile, hand, eye, hair, beard, tattoo, toddler, teenager, elderly person,
    newborn, bride, groom, wedding couple, audience, spectator, tourist, pedestrian,
    athlete, dancer, musician, singer, chef, doctor, nurse, police officer, soldier,
    firefighter, farmer, worker, construction worker, student, teacher, photographer,
    artist, painter, cowboy, fisherman, baker, waiter, clown, santa claus, hiker, surfer,
    skier, swimmer, runner, skateboarder, cyclist, climber, businessman, businesswoman,
    # clothing and accessories
    dress, shirt, t-shirt, jacket, coat, suit, jeans, shorts, sweater, hoodie, hat,
    baseball cap, sunglasses, glasses, shoe, boot, scarf, uniform, costume, wedding dress,
    swimwear, bikini, kimono, apron, handbag, backpack, umbrella, jewelry, necklace, ring,
    earring, wristwatch, necktie, glove, helmet, mask,
    # pets and farm animals
    rabbit, hamster, guinea pig, parrot, goldfish, pig, goat, donkey, lamb, calf, rooster,
    hen, goose, turkey, cattle, livestock, herd, flock, alpaca,
    # wild mammals
    deer, fox, wolf, bear, brown bear, polar bear, lion, tiger, leopard, cheetah, elephant,
    giraffe, zebra, rhinoceros, hippo, monkey, gorilla, chimpanzee, kangaroo, koala, panda,
    squirrel, raccoon, hedgehog, bat, mouse, camel, buffalo, bison, moose, antelope,
    # birds
    seagull, pigeon, swan, eagle, owl, falcon, crow, sparrow, hummingbird, flamingo,
    penguin, peacock, heron, pelican, robin, woodpecker,
    # water animals, reptiles, amphibians
    frog, turtle, lizard, snake, crocodile, shark, whale, dolphin, seal, jellyfish,
    octopus, crab, starfish, coral reef,
    # insects and small creatures
    bee, ant, spider, spider web, dragonfly, ladybug, beetle, snail, caterpillar, moth,
    # vehicles and transport
    taxi, van, suv, jeep, sports car, race car, police car, fire truck, ambulance,
    school bus, tractor, scooter, tram, subway, steam locomotive, helicopter,
    hot air balloon, sailboat, yacht, canoe, kayak, ferry, cruise ship, fishing boat,
    cargo ship, rowboat, fighter jet, airliner, drone, rocket, parking lot, gas station,
    traffic light, road sign, train station, airport, harbor,
    # plants and flowers
    rose, tulip, sunflower, daisy, lily, orchid, lotus, lavender, cherry blossom, blossom,
    wildflower, bouquet, cactus, succulent, houseplant, fern, moss, mushroom, palm tree,
    pine tree, oak tree, bamboo, leaf, autumn leaves, tree trunk, tree branch, bush, hedge,
    vine, ivy,
    # landscapes and water
    countryside, farm, farmland, vineyard, orchard, wheat field, rice field, canyon, cave,
    volcano, glacier, iceberg, dune, lagoon, pond, stream, creek, swamp, wetland, bay,
    pier, marina, lighthouse, shore, wave, surf, horizon, mountain range, mountain lake,
    snowy mountain, mountain peak, trail, forest path, rainforest, jungle, savanna,
    grassland, autumn forest, seascape, hot spring, rock formation, boulder,
    # seasons, weather, sky and light
    spring, summer, autumn, winter, cloudy, sunny, rainy, snowy, foggy, mist, storm cloud,
    thunderstorm, lightning, snowstorm, frost, ice, icicle, sunshine, golden hour, dusk,
    dawn, twilight, moonlight, night sky, stars, milky way, aurora, tornado, fire, smoke,
    fireworks, evening sky,
    # city, streets and buildings
    downtown, alley, plaza, town square, market, street market, night market,
    shopping street, crosswalk, intersection, highway, overpass, tunnel, parking garage,
    apartment building, office building, residential neighborhood, suburb, cottage, cabin,
    barn, farmhouse, mansion, palace, cathedral, chapel, mosque, temple, pagoda, monument,
    statue, fountain, ruins, fort, brick wall, windmill, dam, stadium, amusement park,
    ferris wheel, carousel, roller coaster, playground, zoo, aquarium, museum, art gallery,
    library, school, university, hospital, construction site, factory, warehouse,
    graffiti, street art, mural, neon lights, street light, bench, fence, stairs, balcony,
    roof, facade, doorway, arch, city at night,
    # interiors and furniture
    dining room, home office, classroom, hotel room, lobby, hallway, cafe, coffee shop,
    bar, pub, bakery, supermarket, shopping mall, gym, swimming pool, stage, theater,
    cinema, conference room, laboratory, workshop, garage, fireplace, bed, couch,
    television, desk, shelf, bookshelf, mirror, curtain, carpet, pillow, blanket, vase,
    candle, picture frame, chandelier,
    # food and drink
    breakfast, lunch, dinner, barbecue, picnic, sandwich, hamburger, hot dog,
    french fries, pasta, noodles, rice, sushi, soup, steak, meat, seafood, egg, cheese,
    chocolate, cookie, ice cream, cupcake, pie, donut, pancake, croissant, candy, apple,
    banana, orange, strawberry, grape, lemon, watermelon, tomato, potato, carrot, corn,
    pumpkin, tea, juice, cocktail, milk, wine glass, champagne, plate, bowl, mug, fork,
    knife, spoon, chopsticks, cutting board, street food, fast food, baked goods,
    # objects and technology
    computer monitor, keyboard, tablet computer, headphones, microphone, speaker,
    game controller, video game, robot, guitar, piano, drum, violin, musical instrument,
    ball, balloon, kite, teddy bear, doll, stuffed animal, key, scissors, pen, pencil,
    tools, luggage, box, basket, trash can, flag, skull, sword, gun, telescope, tripod,
    trophy, medal, dinosaur, ladder, wheelchair, shopping cart, vending machine, mailbox,
    # around the house (most of COCO's indoor objects)
    dining table, toilet, sink, bathtub, towel, oven, stove, refrigerator, microwave,
    washing machine, vacuum cleaner, toothbrush, hair dryer, remote control, clothesline,
    # street furniture, outdoor gear and fun
    stop sign, fire hydrant, parking meter, bus stop, tent, campfire, bonfire, hammock,
    swing, slide, sandcastle, snowman, frisbee, skateboard, surfboard, snowboard, ski,
    baseball bat, baseball glove, tennis racket,
    # documents and media, for archives
    handwriting, letter, envelope, newspaper, magazine, book cover, map, menu, receipt,
    ticket, postcard, calendar, chart, whiteboard, blackboard, poster, logo, qr code,
    bar code, illustration, drawing, sketch, painting, cartoon, comic, old photo,
    passport, certificate, diploma, money, banknote, coin, credit card, business card,
    postage stamp, id card, website, text message,
    # art, culture, celebrations
    art, sculpture, mosaic, pottery, calligraphy, embroidery, origami, lantern,
    national flag, christmas tree, christmas lights, christmas decoration, halloween,
    halloween costume, halloween pumpkin, easter egg, birthday cake, gift, confetti,
    # events, sports and activities
    graduation, ceremony, parade, protest, conference, meeting, presentation, performance,
    dance, ballet, circus, fashion show, soccer, football, tennis, golf, basketball,
    baseball, volleyball, rugby, ice hockey, skiing, snowboarding, surfing, skateboarding,
    swimming, running, cycling, hiking, camping, fishing, sailing, horseback riding, kiss,
    hug,
    rock climbing, yoga, boxing, marathon, race, exercise, reading, cooking, gardening,
    shopping, travel, vacation, road trip, eating, sleeping,
    # photographic kinds, styles and qualities
    vintage, sepia, long exposure, motion blur, bokeh, macro photography, shadow,
    backlight, lens flare, symmetry, pattern, texture, minimalism, indoor, outdoor,
    natural light, studio shot, flat lay, still life, street photography, family photo,
    wedding photo,
    # dominant colours
    red, yellow, green, blue, purple, pink, brown, black, white, gray, colorful,
""")

# --------------------------------------------------------------------------------------
# Entries dropped from every source (matched after normalisation, before renaming).
BLOCKLIST = frozenset(
    _tags("""
    # verbs and verb phrases: "This is a photo of add." reads as nothing. Visual ones are
    # renamed to their -ing form in RENAMES instead (run: running).
    act, add, adjust, appear, approach, assemble, attach, attend, bite, blow, boost, build,
    burn, buy, call, capture, carry, carve, catch, celebrate, charge, chase, check,
    climb, collect, compete, connect, contain, cook, copy, create, crush, cut, deliver,
    direct, dive, drag, draw, dribble, drift, drive, drop, eat, edit, enter, extrude, feed,
    fight, fill, flip, flow, fly, fry, give, go, go for, graze, greet, grind, grow, hang,
    help, hide, hike, illuminate, install, kick, lay, lead, lead to, lean, learn, lick,
    lie, lift, line up, live, load, locate, lose, make, meet, miss, mix, move, offer, open,
    operate, order, pass, pay, peel, perform, pick up, play, pose, pour, pull, punch, push,
    putt, read, receive, reflect, relax, release, remain, remodel, remove, repair, reveal,
    ride, riding, rise, see, sell, shake, share, shine, shoot, singe, sip, sit, sitting,
    smell, spin, spray, spread, squat, squeeze, stab, stand, standing, stare, stir, stop,
    stop at, straddle, stretch, strike, stroll, surround, swinge, take, talk, taste, teach,
    tear, throw, touch, trade, turn, twist, type on, use, walk, wash, washing, wear, wield,
    write, play badminton, play baseball, play basketball, play billiard, play football,
    play pong, play tennis, play volleyball, playing chess, playing golf, playing mahjong,
    # adjectives: not subjects, and rarely what a photographer searches for
    ancient, athletic, beautiful, bright, calm, classic, clean, clear, cold, cool, damp,
    dark, darkness, dry, frosty, frozen, grassy, historic, hot, lush, luxury, medieval,
    modern, narrow, religious, rocky, romantic, royal, rustic, short, stunning, sweet,
    tight, traditional, warm, wet, wide, wild, french, crowded, aged, glossy, matte,
    sterile, moist, dirty, rusty, natural, man-made, scary, soothing, stressful,
    # abstract or non-visual nouns
    academy, accessory, action, activity, adaptation, adventure, aid, alarm, album, alp,
    angle, animation, anniversary, app, app icon, appearance, applause, appointment, area,
    argument, array, arrest, article, assembly, association, atlas, atmosphere,
    attraction, audio, avatar, award, award winner, back, balance, beat, beauty, bend,
    bill, bit, birth, blessing, block, blog, board, body, border, brace, bracket, brand,
    break, broadcasting, building material, bundle, bureau, business, cancer, case,
    casting, chamber, champion, championship, channel, charity, charity event, charm,
    chemical compound, chemistry, circle, circuit, class, collaboration, collection,
    color, coloring material, comedy, comfort, comfort food, community, company,
    composition, conflict, confluence, connector, contest, continent, contract, control,
    convention, converter, countdown, course, craft, creature, crest, crew, crossbar,
    cube, cuisine, curl, currency, curve, cycle, cylinder, date, death, debate, decor,
    decorate, decorative picture, deity, depression, design, desktop, destruction, diet,
    die, disaster, disease, display, dispenser, dot, drama, earthquake, ecosystem,
    education, electricity, electron, electronic, emblem, embellishment, emergency,
    emergency service, emotion, enclosure, energy, engagement, engineering, ensemble,
    entertainment, equipment, erosion, estate, event, extractor, facility, fall,
    fashion look, fault, fauna, fiber, fiction, file, file photo,
    film format, filter, fixture, flake, flap, flare, flash, flat, flavor, flight, float,
    fluid, flush, font, form, formation, forward, foundation, frame, freshener,
    friendship, fuel, fun, gadget, game, game board, garment, gas, gel, gig, glaze, glow,
    government, government agency, grid, group, guide, habitat, half, happiness,
    hardware, hardwood, head, hearing, heat, highlight, history, hole, home, home base,
    horror, hybrid, icon, image, independence day, individual, industry, infrastructure,
    ingredient, interaction, invertebrate, jack, job, joint, kit, land, land vehicle,
    landing, lap, laser, lash, latch, latex, leak, legend, lesson, level, license, light,
    lighting, limb, line, linen, liner, list, living space, loop, lottery, love, machine,
    magic, mammal, management, manufacturing, mark, marine, marine invertebrate,
    marine mammal, marriage, martial, match, material, media, medical staff, meter,
    midnight, milestone, mineral, mission, mixture, model, moisture, mold, molding, motif,
    motor, mound, municipality, music, mythology, navigation, navy, nectar, neckband,
    neckline, news, note, notice, number, number icon, oil, opening, operation, orbit,
    organization, outline, oval, pack, pad, pain, panel, paradise, parish, parking,
    passage, passbook, paste, patch, peace, pest, phenomenon, photography, picture, pin,
    pitch, place, plain, plan, platform, plot, plume, pod, poetry, point, pointer, pole,
    portfolio, post, pound, powder, power plugs and sockets, power see, practice,
    premiere, prescription, print, printing, product, profession, professional, profile,
    project picture, publication, pulse, quarter, quote, rail, railcar, ray, rear,
    rear view, recipe, record, recorder, rectangle, reel, reflector, register, relief,
    religion, rescue, research, residence, resin, retail, rim, roll, roller, romance,
    row, ruffle, sale, scale, scene, science, score, scrap, scratch, scrub, season,
    security, sense, sensor, server, service, set, shape, sheet, shelter, shipping, show,
    side, sideline, siding, signal, signage, skin, slate, slice, slider, sling, slope,
    slot, snapshot, software, solo, solution, song, sound, span, spike, sport association,
    sports ball, sports meet, square, squash, squad, stack, staff, stain, station,
    steel, stem, stick, stock, stomach, strait, strap, string, strip, structure, studio,
    stuff, style, suite, sunday, surface, suspension, swirl, switch, symbol, system,
    table top, tackle, tank, tape, team presentation, technology, tee, temperature,
    terminal, terrain, territory, test, test match, therapy, thing, thinking, tin,
    topping, tour, tourist attraction, tournament, track, tradition, trainer, training,
    training ground, transformer, transparency, transporter, treat, trial, triangle,
    tribe, tributary, trick, trim, trio, troop, tropic, tube, type, universe, up,
    valve, variety, vault, vein, vent, vessel, video, vigil, vision, voyage, waist, waste,
    waste container, water feature, water level, water surface, weather, web, wedge,
    weight, wind, workplace, work card, world, yoke, youth, zip,
    # ... and the SUN attributes that describe a layout or a mood rather than a subject
    transporting, touring, socializing, congregating, competing, playing,
    spectating, constructing, medical activity, working, using tools, conducting business,
    fencing, shingles, vinyl, indoor lighting, open area, semi-enclosed area,
    enclosed area, far-away horizon, no horizon, rugged scene, vertical components,
    horizontal components, symmetrical, cluttered space, still water, bathing, gaming,
    # who someone is, not what the camera sees (relations, jobs without a uniform, fame)
    actor, adult, airman, animator, architect, astronomer, author, bishop, blue artist,
    business executive, business team, captain, celebrity, chap, chemist, child actor,
    cleaner, client, commander, commentator, commuter, competitor, composer,
    costumer film designer, country artist, country pop artist, cousin, craftsman,
    customer, daughter, defender, designer, detective, director, disciple, dude, duchess,
    educator, engineer, entertainer, explorer, fashion designer, fashion girl, father,
    film director, film producer, folk artist, folk rock artist, grandfather, grandmother,
    grandparent, hacker, hard rock artist, head coach, basketball coach, football coach,
    hero, hip hop artist, historian, host, jazz artist, jazz fusion artist, journalist,
    judge, king, lawyer, lead singer, leader, mahout, maid, manager, metal artist,
    minister, mother, music video performer, nanny, neighbor, official, participant,
    partner, philosopher, physicist, pilgrim, politician, pop artist, pope, preacher,
    president, prince, princess, professor, prophet, queen, rapper, record producer,
    researcher, rescuer, rock artist, scout, sculptor, secretary, sibling, socialite,
    street artist, striker, supermodel, supporter, technician, theatre actor, tv actor,
    tv personality, twin, veteran, violist, volunteer, warrior, wedding photographer,
    writer, motorcycle racer, brunette,
    # film, tv and music genres: not visible in a photo
    action film, animation film, comedy film, drama film, horror film,
    science fiction film, tv drama, tv genre, tv show, tv sitcom, documentary,
    fiction book, crosstalk, jazz, pop,
    # brands, trademarks and fictional characters
    audi, barbie, batman, coke, garfield, gundam, ipad, iphone, ipod, lego, loki, mac,
    segway, tabasco sauce, totoro, ultraman, vespa, wii, wii controller, disneyland,
    formula 1, super bowl, ktv,
    # geographic names that are not a kind of scene
    caribbean, siberia, gobi, chile, cape cod, hamburg, lake district, bay bridge,
    # offensive, pejorative, distressing or prone to embarrassing false positives
    afro, blood, bomb, bomber, cock, condom, crapper, crash, dermopathy, electric chair,
    gang, injury, riot, sanitary napkin, slum, violence, war, wound, bedpan, potty,
    # odd, obscure, ambiguous (several meanings), or a part of a scene too small to matter
    air line, aqua, art print, art vector illustration, ash, balance car, band, bank,
    bank card, basket container, bass, bath heater, bathroom accessory, bathroom door,
    bathroom window, batter, beast, bedroom window, bedcover, beeper, black sheep, blade,
    blind, board eraser, bobfloat, bolt, boutique hotel, bow, bowling equipment,
    box girder bridge, boxer, brain, brake, brass, brass plaque, bronze, bucket cabinet,
    buttonwood, cabin car, cabinetry, cantilever bridge, card, cargo, carnivore,
    cartoon style, cement, character sculpture, chassis, checkbook, chest, chinaware,
    chinese rose, chinese tower, chip, cigarette case, clasp, clavicle, cleat, clip,
    clipper, clothe, club, clutch, coach, cob, cocktail table, computer box, cone,
    container, cooker, cooking spray, corner, cornmeal, counter, court, crabmeat, crack,
    crape, crop, cruise, cruiser, crumb, cue, cuff, dairy, daylight, deadbolt, den, dial,
    dip, disco, dishrag, dolly, dollar, doorplate, drinking water, droplight, dropper,
    dunk, dust, dye, earplug, elevation map, elevator car, enamel, exhaust hood,
    face powder, face towel, factory workshop, fair, family car,
    family room, feedbag, fender, fertilizer, fitness course, five, flasher, floor fan,
    floor mat, floor window, floss, flower box, foam, fondant, footrest, footstall,
    footwear, forehead, fortification, fruit dish, fruits shop, fume hood, garage kit,
    garden asparagus, glass bead, glass bowl, glass box, glass floor, glass house,
    glass plate, glass vase, glass wall, glass window, glue pudding, grampus, grille,
    grilled eel, grinder, gulf, hairgrip, hairnet, hairpin, hand glass, handle, hatbox,
    heart, heel, high bar, highland, hill country, hill station, hinge, hip, homework,
    hood, horned cow, horse blanket, hotplate, ice bag, ice hockey team, ice maker,
    injection, ink, insulated cup, isopod, jackcrab, jaw, jay, jewel, jockey cap,
    kitchen floor, kitchen window, knob, laptop keyboard, launch, launch event,
    launch party, lawn wedding, leather shoe, lens, letter logo, lid, lightning rod,
    mail slot, makeover, makeup tool, manhole, mantle, masher, mat, mechanical fan, mess,
    mill, mine, mineral water, mint candy, mole, mountain view, mountaineering bag,
    mouthwash, mr, mulch, music stool, neon, noseband, notepaper, office window, paling,
    pall, paper cutter, pegleg, penny, perch, personal care, personal flotation device,
    phonebook, pilot boat, pint, pipe bowl, pizza pan, plaster, plaster bandage, platinum,
    playingfield, plug, plumbing fixture, polecat, poker, pump, puzzle, reamer, red flag,
    resort town, retriever, rider, rock face, rocker, roe, rosy cloud,
    round table, rye, safe, salon, salt shaker, scoop, scraper, screen, seat, sharpener,
    shaker, shelve, shoal, shoe tree, shooting basketball guard, side cabinet,
    silk stocking, skate, skater, ski equipment, skiing shoes, skullcap, sky tower,
    soupspoon, sparkle, sphere, stainless steel, state park, state school, steamed bread,
    stirrer, stone mill, submarine water, suede, summer evening, swing bridge, tachometer,
    tan, tassel, tennis net, thermos bottle, thunder, tile wall, toe, towel bar,
    train bridge, training bench, vanilla, vanity, vector cartoon illustration,
    vector icon, view mirror, waiting hall, water bird, water pipe, water purifier,
    waterproof jacket, watercolor illustration, watermark overlay stamp, western food,
    western restaurant, window frame, window screen, wine cabinet, wine cooler,
    winter melon, winter morning, winter scene, wood wall, wrap dress,
    wedding photography, street scene, khaki, evening sun, railway line,
    baby seat, bike path, dress hat, morning light, morning sun,
    # ... and what a review of the ranked tail found vague, ambiguous or redundant
    player, hall, cap, army, battle, bullet, driver, flea, officer, reception,
    fashion accessory, car logo,
    bus window, christmas eve, dog breed, film premiere, grand prix, golf cap, hair color,
    football college game, teething ring, comic book character, modern tower,
    portrait session, poster page, press room, printed page, publicity portrait,
    hiking equipment, evening light, dirt field, hami melon, out, march, nerve, liquid,
    puff, portal, domicile, headquarter, huddle, navratri, sleeve, brim, waistband,
    chiffonier, hassock, fleet, ford, infantry, greeting, legume, derby, washer, mortar,
    tick, staple, wax, touchdown,
""")
)

# Source entry (normalised) -> tag. A target that already exists merges the two.
RENAMES = _pairs("""
    # spelling, grammar and US English
    3d cg rendering: 3d rendering, archaelogical excavation: archaeological excavation,
    autumn leave: autumn leaves, baby clothe: baby clothes, billard: billiards,
    binocular: binoculars, chopstick: chopsticks, dinning table: dining table,
    foie gra: foie gras, icecream: ice cream, jewellery: jewelry, lasagne: lasagna,
    neighbourhood: neighborhood, sherbert: sherbet, yoghurt: yogurt, hyaena: hyena,
    kindergarden classroom: kindergarten classroom, caldron: cauldron, noodle: noodles,
    t shirt: t-shirt, counter top: countertop, paint brush: paintbrush,
    stop watch: stopwatch, nailfile: nail file, dish washer: dishwasher, dishsoap: dish soap,
    chain saw: chainsaw, gasmask: gas mask, flag pole: flagpole, bird cage: birdcage,
    bird house: birdhouse, sand castle: sandcastle, sand bar: sandbar, tea pot: teapot,
    moon cake: mooncake, seabass: sea bass, wood floor: wooden floor, window sill: windowsill,
    wet suit: wetsuit, river bank: riverbank, lamp post: lamppost, cocker: cocker spaniel,
    tae kwon do: taekwondo, first-aid kit: first aid kit, wood-burning stove: wood stove,
    # the natural plural: the singular reads oddly as a tag
    stair: stairs, pant: pants, tong: tongs, shear: shears, firework: fireworks,
    roller skate: roller skates, flip-flop: flip-flops, slipper: slippers,
    sandal: sandals, sock: socks, loafer: loafers, legging: leggings, sweat pant: sweatpants,
    high heel: high heels, rain boot: rain boots, ski boot: ski boots, ski pole: ski poles,
    running shoe: running shoes, knee pad: knee pads, earmuff: earmuffs, cufflink: cufflinks,
    handcuff: handcuffs, crutch: crutches, stilt: stilts, freckle: freckles, whisker: whiskers,
    pigtail: pigtails, rein: reins, maraca: maracas, plier: pliers, pea: peas,
    lentil: lentils, raisin: raisins, nacho: nachos, spice: spices, seed: seeds,
    sprinkle: sprinkles, leftover: leftovers, toiletry: toiletries, stripe: stripes,
    polka dot: polka dots, ripple: ripples, rapid: rapids, ember: embers, overall: overalls,
    coverall: coveralls, bleacher: bleachers, newlywed: newlyweds, onion ring: onion rings,
    spring roll: spring rolls, potato chip: potato chips, poker chip: poker chips,
    scrambled egg: scrambled eggs, mashed potato: mashed potatoes, playing card: playing cards,
    power line: power lines, sunflower seed: sunflower seeds, snowshoe: snowshoes,
    knitting needle: knitting needles, office supply: office supplies, tool: tools,
    christmas light: christmas lights, earphone: headphones, neon light: neon lights,
    star: stars, water drop: water droplets, winter sport: winter sports,
    water sport: water sports, shutter: shutters, spark: sparks,
    # verbs that make good activity tags in their -ing form
    run: running, swim: swimming, sleep: sleeping, jump: jumping, laugh: laughing,
    jog: jogging, juggle: juggling, knit: knitting, kneel: kneeling, sing: singing,
    hunt: hunting, sew: sewing, wrestle: wrestling, sunbathe: sunbathing,
    climb mountain: mountain climbing, cheerlead: cheerleader, bungee: bungee jumping,
    parasail: parasailing, water ski: water skiing,
    # a clearer or more common name for the same thing
    plane: airplane, gull: seagull, fireman: firefighter, police: police officer,
    senior: elderly person, monochrome: black and white, ladybird: ladybug,
    mollymawk: albatross, bonasa umbellu: ruffed grouse, hautboy: oboe, sax: saxophone,
    mantid: praying mantis, roach: cockroach, duckbill: platypus, holothurian: sea cucumber,
    garbanzo: chickpea, courgette: zucchini, litchi: lychee, pitaya: dragon fruit,
    pocket bread: pita, slaw: coleslaw, hotpot: hot pot, soybean milk: soy milk,
    joker: clown, clown fish: clownfish, paraquet: parakeet, howler: howler monkey,
    siamese: siamese cat, tabby: tabby cat, bichon: bichon frise, labrador: labrador retriever,
    newfoundland: newfoundland dog, pitbull: pit bull, monarch: monarch butterfly,
    teddy: teddy bear, dozer: bulldozer, decker bus: double-decker bus, limo: limousine,
    monocycle: unicycle, harvester: combine harvester, mower: lawn mower, vet: veterinarian,
    vacuum: vacuum cleaner, fridge: refrigerator, extinguisher: fire extinguisher,
    hydrant: fire hydrant, hair drier: hair dryer, drawing pin: thumbtack,
    elastic band: rubber band, underdrawers: underwear, underclothes: underwear,
    sports coat: blazer, ballet skirt: tutu, bass horn: tuba, mouth organ: harmonica,
    plectrum: guitar pick, infant bed: crib, feeding chair: high chair,
    sleepwear: pajamas, polo neck: turtleneck, plug hat: top hat, paisley bandanna: bandana,
    church bench: pew, sawbuck: sawhorse, scaffold: scaffolding, tinfoil: aluminum foil,
    swab: cotton swab, sharpie: marker, shaver: electric shaver, stationary bicycle: exercise bike,
    indoor rower: rowing machine, inhalator: inhaler, inking pad: ink pad,
    facial tissue holder: tissue box, fax: fax machine, corded phone: telephone,
    phone: telephone, payphone: pay phone, phone box: phone booth, remote: remote control,
    portable battery: power bank, solar battery: solar panel, dish antenna: satellite dish,
    telegraph pole: utility pole, rear light: tail light, wiper: windshield wiper,
    vane: weather vane, woodworking plane: hand plane, weight scale: bathroom scale,
    tile flooring: tile floor, toilet bowl: toilet, hanger: clothes hanger,
    hardback book: hardcover book, identity card: id card, stamp: postage stamp,
    news conference: press conference, punch bag: punching bag, life belt: life ring,
    well: water well, watch: wristwatch, tie: necktie, iron: clothes iron, fan: electric fan,
    exit: exit sign, bin: trash can, can: tin can, graph: chart, bark: tree bark,
    branch: tree branch, stump: tree stump, pine: pine tree, birch: birch tree,
    fir: fir tree, oak: oak tree, cypress: cypress tree, spruce: spruce tree,
    willow: willow tree, peak: mountain peak, crescent: crescent moon, space: outer space,
    earth: planet earth, gothic: gothic architecture, retro: retro style,
    city nightview: city at night, rise building: high-rise building, mall: shopping mall,
    shopfront: storefront, showcase: display case, guard: security guard,
    trolley: tram, rink: ice rink, raceway: race track,
    air sock: windsock, aircraft model: model airplane, air field: airfield,
    aircraft cabin: airplane cabin, airport runway: runway, airshow: air show,
    auto factory: car factory, auto part: car part, auto show: car show,
    auto showroom: car showroom, auto mechanic: mechanic, motor vehicle: vehicle,
    motorbike: motorcycle, bunny: rabbit, beanbag: bean bag chair, day bed: daybed,
    bird bath: birdbath, boat house: boathouse, sand box: sandbox, dormitory: dorm room,
    graveyard: cemetery, meeting room: conference room, canteen: cafeteria,
    discotheque: nightclub, crock pot: slow cooker, railway station: train station,
    cosmetic: cosmetics, cosmetics brush: makeup brush, cosmetics mirror: makeup mirror,
    farmer market: farmers market, fastfood restaurant: fast food restaurant,
    butchers shop: butcher shop, artists loft: artist loft, childs room: children's room,
    veterinarians office: veterinary clinic, toyshop: toy store, oilrig: oil rig,
    fish pond: fishpond, fishing pole: fishing rod, lock chamber: canal lock,
    manufactured home: mobile home, jacuzzi: hot tub, photo frame: picture frame,
    stage light: stage lighting, dance room: dance studio, duffel: duffel bag,
    crossroad: intersection, zebra crossing: crosswalk, socket: electric outlet,
    trailer truck: semi truck, white house: the white house, asia temple: temple,
    horse ride: horseback riding, horseback: horseback riding,
    instrument: musical instrument, appliance: home appliance, cane: walking cane,
    biker: cyclist, business woman: businesswoman, fungi: fungus, yolk: egg yolk,
    capsule: pill capsule, weed: weeds, rapeseed: rapeseed field, cub: animal cub,
    place mat: placemat, plasticine: modeling clay, photo: photograph,
    lamp shade: lampshade, bath: bathtub, strawman: scarecrow, cheer: cheerleader,
    # synonyms and near-duplicates merged into the tag kept
    lorry: truck, ewe: sheep, mare: horse, stallion: horse, feline: cat, bug: insect,
    catamount: mountain lion, beverage: drink, bloom: blossom, cyclone: hurricane,
    demonstration: protest, fire department: fire station, firework display: fireworks,
    mandarine: mandarin orange, utensil: kitchen utensil, traffic congestion: traffic jam,
    rock climber: climber, college student: student, soccer goalkeeper: goalkeeper,
    ice hockey player: hockey player, cognac: brandy, hose: garden hose,
    pool: swimming pool, shell: seashell, shrub: bush, monitor: computer monitor,
    tablet: tablet computer, racket: tennis racket, pan: frying pan, lock: padlock,
    mallard duck: mallard, stop light: traffic light, steam train: steam locomotive,
    steam engine: steam locomotive, stuffed toy: stuffed animal, poker card: playing cards,
    pet store: pet shop, skating rink: ice rink, team photo: group photo,
    trophy cup: trophy, watercolor: watercolor painting, window display: shop window,
    display window: shop window, hibiscus flower: hibiscus, band aid: bandage,
    dress suit: suit, eggbeater: whisk, electric drill: drill, fish boat: fishing boat,
    snow mountain: snowy mountain, mountain snowy: snowy mountain, swivel chair: office chair,
    alcohol: liquor, air conditioning: air conditioner, automobile make: car,
    automobile model: car, face close-up: close-up, skyline: city skyline,
    waiting in line: queue, trees: tree, leaves: leaf, flowers: flower, clouds: cloud,
    tiles: tile, biking: cycling, sports: sport, climbing: rock climbing,
    vendor: street vendor, gallery: art gallery, speed limit: speed limit sign,
    coaster: roller coaster, brickwork: brick wall, baseball hat: baseball cap,
    drugstore: pharmacy, lecture room: lecture hall, rice paddy: rice field,
    field road: dirt road, rib: ribs, root: tree root, stall: market stall, tub: bathtub,
    building facade: facade, shrubbery: bush, catwalk show: fashion show,
    cat furniture: cat tree, winter storm: snowstorm,
    morning fog: fog, monkey wrench: wrench, sport equipment: sports equipment,
    sport team: sports team, couple photo: couple, bottle screw: corkscrew,
    asphalt road: road, city view: cityscape, sea view: seascape, night view: city at night,
    football game: football match, luxury yacht: yacht, hair roller: hair curlers,
    cargo aircraft: cargo plane, pumpkin seed: pumpkin seeds, soap bubble: bubble,
    christmas ball: christmas ornament, christmas hat: santa hat, broach: brooch,
""")

# Places365 paths whose default phrase (see ``places_phrase``) reads badly or that merge
# into a more common name. Keys are the path without its ``/x/`` prefix.
PLACES_RENAMES = _pairs("""
    apartment_building/outdoor: apartment building, arena/performance: concert arena,
    atrium/public: atrium, bakery/shop: bakery, balcony/interior: balcony,
    basketball_court/indoor: basketball court, bazaar/indoor: bazaar,
    bazaar/outdoor: bazaar, booth/indoor: exhibition booth, bow_window/indoor: bow window,
    bus_station/indoor: bus station, canal/natural: canal, canal/urban: canal,
    church/indoor: church interior, desert/sand: sand desert,
    desert/vegetation: desert scrubland, elevator/door: elevator door,
    escalator/indoor: escalator, field/cultivated: farm field, field/wild: meadow,
    flea_market/indoor: flea market, florist_shop/indoor: florist shop,
    garage/indoor: garage interior, general_store/indoor: general store,
    greenhouse/indoor: greenhouse interior, gymnasium/indoor: gymnasium,
    hangar/indoor: hangar, ice_skating_rink/indoor: ice rink,
    ice_skating_rink/outdoor: ice rink, jacuzzi/indoor: hot tub, lake/natural: lake,
    library/indoor: library, library/outdoor: library building,
    market/indoor: indoor market, market/outdoor: outdoor market, moat/water: moat,
    movie_theater/indoor: movie theater, museum/indoor: museum interior,
    museum/outdoor: museum, parking_garage/indoor: parking garage,
    parking_garage/outdoor: parking garage, pub/indoor: pub,
    shopping_mall/indoor: shopping mall, stage/indoor: stage, stage/outdoor: outdoor stage,
    subway_station/platform: subway platform, swimming_pool/indoor: indoor swimming pool,
    temple/asia: temple, train_station/platform: train platform,
    underwater/ocean_deep: underwater, volleyball_court/outdoor: volleyball court,
    reception: reception desk, mountain_snowy: snowy mountain, barndoor: barn door,
    carrousel: carousel, kindergarden_classroom: kindergarten classroom,
    childs_room: children's room, shopfront: storefront, office_cubicles: office cubicle,
""")

# Scenes (mostly Places365 categories) that are real but specialised or rare in personal
# and archive collections: kept, but moved to the very end (whichever source they come
# from) so that the default 1000 hold the commoner scenes.
DEFERRED = frozenset(
    _tags("""
    army base, artist loft, badlands, bedchamber, berth, burial chamber, butte, canal lock,
    catacomb, clean room, corral, crevasse, elevator door, elevator lobby, elevator shaft,
    engine room, excavation, fire escape, galley, hayfield, ice floe, ice shelf, islet,
    kasbah, kennel, landfill, landing deck, legislative chamber, loading dock, medina,
    mezzanine, moat, mobile home, oast house, oil rig, orchestra pit, server room,
    storage room, throne room, trench, utility room, watering hole, wet bar, youth hostel,
    archaeological excavation, bow window, exhibition booth, jail cell, desert scrubland,
    sand desert, farm field, broadleaf forest, hunting lodge, tree farm, bullring,
    bank vault, art school, biology laboratory, physics laboratory, fabric store,
    martial arts gym, nursing home, recreation room, assembly line, bus interior,
    car factory, car showroom, chemistry lab, computer room, dining hall, embassy,
    garage interior, greenhouse interior, heliport, home theater, office cubicle,
    reception desk, repair shop, television room, ticket booth, train interior, archive,
    atrium, beer hall, library building, natural history museum, science museum,
    courthouse, conference center, delicatessen, water tower, amusement arcade, racecourse,
    raft, fishpond, alcove, rodeo arena, ball pit, boat deck, butcher shop, candy store,
    entrance hall, florist shop, igloo, inn, jewelry shop, mausoleum, music studio,
    rock arch, rope bridge, snowfield, swimming hole, topiary garden, television studio,
    viaduct, shoe shop,
""")
)

# Last words whose plural names a different thing from the singular (eyewear is not glass).
DISTINCT_PLURALS = frozenset({"glasses", "shorts"})


# --------------------------------------------------------------------------------------
def normalise(raw: str) -> str:
    """Strip, lowercase, turn ``_`` into spaces and collapse whitespace."""
    return " ".join(raw.replace("_", " ").split()).lower()


def places_path(line: str) -> str:
    """The category path of a Places365 line: ``/b/bakery/shop 38`` gives ``bakery/shop``."""
    return line.split()[0].strip("/").split("/", 1)[1]


def places_phrase(path: str) -> str:
    """Turn a Places365 category path into a natural phrase.

    ``PLACES_RENAMES`` wins when it names the path. Otherwise ``name/outdoor`` and
    ``name/exterior`` become ``name`` (the outside view is what the bare name suggests),
    ``name/indoor`` becomes ``indoor name``, ``name/interior`` becomes ``name interior`` and
    any other qualifier goes in front (``arena/hockey``: ``hockey arena``).
    """
    if path in PLACES_RENAMES:
        return PLACES_RENAMES[path]
    name, _, qualifier = path.partition("/")
    if qualifier in ("", "outdoor", "exterior"):
        phrase = name
    elif qualifier == "indoor":
        phrase = f"indoor {name}"
    elif qualifier == "interior":
        phrase = f"{name} interior"
    else:
        phrase = f"{qualifier} {name}"
    return normalise(phrase)


def _singular(word: str) -> str:
    if len(word) <= 3 or word in DISTINCT_PLURALS:
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def merge_key(tag: str) -> str:
    """What two spellings of one tag share: no spaces, hyphens or apostrophes, and the last
    word singular (``bird baths`` and ``birdbath`` both give ``birdbath``)."""
    words = tag.replace("-", " ").replace("'", "").split()
    return "".join([*words[:-1], _singular(words[-1])])


def clean(entry: str) -> str | None:
    """A source entry as a tag, or None when the blocklist drops it."""
    tag = normalise(entry)
    if not tag or tag in BLOCKLIST:
        return None
    return RENAMES.get(tag, tag)


@dataclass
class Vocabulary:
    """The ordered tags, the tier each came from, and what each source contributed."""

    tags: list[str] = field(default_factory=list)
    tier_of: dict[str, str] = field(default_factory=dict)
    in_source: dict[str, set[str]] = field(default_factory=dict)  # source -> its clean tags
    blocked: Counter[str] = field(default_factory=Counter)  # source -> entries dropped
    merged: list[tuple[str, str]] = field(default_factory=list)  # (variant, tag kept)
    unused_rules: list[str] = field(default_factory=list)  # rules no source entry meets
    _keys: dict[str, str] = field(default_factory=dict, repr=False)

    def add(self, tier: str, tags: Iterable[str]) -> None:
        """Append the tags whose merge key is new; record spelling variants as merged."""
        for tag in tags:
            key = merge_key(tag)
            kept = self._keys.get(key)
            if kept is None:
                self._keys[key] = tag
                self.tags.append(tag)
                self.tier_of[tag] = tier
            elif kept != tag:
                self.merged.append((tag, kept))


class SourceError(Exception):
    """A raw list is missing or unreadable."""


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(
            f"source list {path} is missing; point --sources at the folder that holds "
            "recognize-anything/ and places365/"
        ) from None
    return [line for line in text.splitlines() if line.strip()]


def _check_curation() -> None:
    """Fail loudly on curation slips: unnormalised or repeated core tags, contradicting rules."""
    core = CORE_ESSENTIAL + CORE_COMMON
    for tag in core:
        if tag != normalise(tag):
            raise ValueError(f"core tag {tag!r} is not normalised")
    repeated = sorted(key for key, n in Counter(map(merge_key, core)).items() if n > 1)
    if repeated:
        raise ValueError(f"core tags listed twice: {repeated}")
    if both := sorted(BLOCKLIST & RENAMES.keys()):
        raise ValueError(f"entries both blocked and renamed: {both}")
    if blocked_targets := sorted(BLOCKLIST & set(RENAMES.values())):
        raise ValueError(f"renames into blocked tags: {blocked_targets}")


def _family_sizes(pool: Iterable[str]) -> Counter[str]:
    """For every phrase, how many tags of ``pool`` contain it as whole words."""
    sizes: Counter[str] = Counter()
    for tag in pool:
        words = tag.split()
        n = len(words)
        sizes.update({" ".join(words[i:j]) for i in range(n) for j in range(i + 1, n + 1)})
    return sizes


def build(sources: Path) -> Vocabulary:
    """Build the vocabulary from the raw lists in the ``sources`` folder."""
    _check_curation()
    places_paths = [places_path(line) for line in _read_lines(sources / PLACES_FILE)]
    raw = {
        "ram": _read_lines(sources / RAM_FILE),
        "places365": [places_phrase(path) for path in places_paths],
        "sun": _read_lines(sources / SUN_FILE),
    }
    vocab = Vocabulary()
    cleaned: dict[str, list[str]] = {}
    for source, entries in raw.items():
        tags = [clean(entry) for entry in entries]
        cleaned[source] = [tag for tag in tags if tag is not None]
        vocab.in_source[source] = set(cleaned[source])
        vocab.blocked[source] = len(tags) - len(cleaned[source])

    vocab.add("core-essential", CORE_ESSENTIAL)
    vocab.add("core-common", CORE_COMMON)
    vocab.add("places365", [t for t in cleaned["places365"] if t not in DEFERRED])
    vocab.add("sun", [t for t in cleaned["sun"] if t not in DEFERRED])
    pool = {*vocab.tags, *cleaned["ram"], *cleaned["places365"], *cleaned["sun"]}
    sizes = _family_sizes(pool)
    ram_order = {tag: i for i, tag in reversed(list(enumerate(cleaned["ram"])))}
    ranked = sorted(ram_order, key=lambda t: (-sizes[t], len(t.split()), ram_order[t]))
    vocab.add("ram", [t for t in ranked if t not in DEFERRED])
    vocab.add("deferred", [t for t in cleaned["places365"] + cleaned["ram"] if t in DEFERRED])
    unknown = check_categories(vocab.tags)
    if unknown:
        raise ValueError(f"categories.py names children that are not tags: {unknown}")

    seen = {normalise(entry) for entries in raw.values() for entry in entries}
    vocab.unused_rules = sorted(
        [f"blocklist: {t}" for t in BLOCKLIST if t not in seen]
        + [f"rename: {t}" for t in RENAMES if t not in seen]
        + [f"places rename: {t}" for t in PLACES_RENAMES if t not in places_paths]
        + [f"deferred: {t}" for t in DEFERRED if t not in pool]
    )
    return vocab


def render(vocab: Vocabulary) -> str:
    """The file's text: a short ``#`` header, then one tag per line."""
    header = (
        f"# Visual Buffet built-in photo tags: {len(vocab.tags)} tags, most useful first.\n"
        "# Generated by vocab/build_vocab.py (do not edit by hand). Sources, rules and licences\n"
        "# (RAM tag list: Apache-2.0; Places365 and SUN attributes: MIT): vocab/README.md.\n"
    )
    return header + "".join(f"{tag}\n" for tag in vocab.tags)


def render_parents(vocab: Vocabulary) -> str:
    """``tag-parents.txt``: a ``#`` header, then ``parent|child`` lines in the tags' order."""
    places = [t for t in vocab.tags if vocab.tier_of[t] == "places365"]
    lines = parent_lines(vocab.tags, places)
    header = (
        f"# Categories of the built-in photo tags: {len(lines)} parent|child lines.\n"
        "# Generated by vocab/build_vocab.py from vocab/categories.py (do not edit by hand).\n"
        "# The SigLIP plugin reports them as each tag's parents; XMP sidecars write them as\n"
        "# hierarchical keywords (docs/xmp.md).\n"
    )
    return header + "".join(f"{line}\n" for line in lines)


def stats(vocab: Vocabulary) -> str:
    """Counts and provenance, for the README and for reviewing a curation change."""
    output = set(vocab.tags)
    from_sources = set().union(*vocab.in_source.values())
    core_only = [t for t in vocab.tags if t not in from_sources]
    tiers = Counter(vocab.tier_of.values())
    lines = [f"total: {len(vocab.tags)}"]
    lines += [f"tier {tier}: {n}" for tier, n in tiers.items()]
    lines += [
        f"{source}: {len(tags & output)} output tags, {vocab.blocked[source]} entries blocked"
        for source, tags in vocab.in_source.items()
    ]
    lines.append(f"core-only ({len(core_only)}): {', '.join(core_only)}")
    first = Counter(vocab.tier_of[t] for t in vocab.tags[:1000])
    lines.append(f"first 1000 by tier: {dict(first)}")
    lines.append(f"merged variants: {', '.join(f'{a} > {b}' for a, b in vocab.merged)}")
    lines.append(f"unused rules: {', '.join(vocab.unused_rules) or 'none'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sources",
        type=Path,
        default=DEFAULT_SOURCES,
        metavar="DIR",
        help=f"folder with the raw lists (default: {DEFAULT_SOURCES})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="FILE",
        help="the file to write or check (default: vocab/photo-tags.txt)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the file differs from a fresh build",
    )
    parser.add_argument(
        "--stats", action="store_true", help="print counts and provenance to stderr"
    )
    args = parser.parse_args(argv)
    if not args.sources.is_dir():
        parser.error(f"--sources {args.sources} is not a folder; give the raw lists' folder")

    try:
        vocab = build(args.sources)
    except SourceError as exc:
        parser.error(str(exc))
    outputs = {
        args.output: render(vocab),
        args.output.with_name(PARENTS_NAME): render_parents(vocab),
    }
    if args.stats:
        print(stats(vocab), file=sys.stderr)
    if args.check:
        for path, text in outputs.items():
            try:
                current = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                current = ""
            if current != text:
                print(
                    f"{path} is out of date; rebuild it: python vocab/build_vocab.py",
                    file=sys.stderr,
                )
                return 1
        print(f"{args.output} and {PARENTS_NAME} are up to date ({len(vocab.tags)} tags).")
        return 0
    for path, text in outputs.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(vocab.tags)} tags to {args.output}, their categories to {PARENTS_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
