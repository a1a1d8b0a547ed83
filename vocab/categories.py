"""Categories of the built-in tags: the parents behind hierarchical XMP keywords.

Curated for this project, not taken from WordNet (Debian's wordnet-base has it, but its
hypernyms are too fine for photo keywords, dog -> canine -> carnivore -> placental, and a
tag's first sense is often not the photo sense; vocab/README.md). Each
category lists its children; a category may itself sit under another (``bird`` under
``animal``), giving paths such as ``animal|bird|eagle``. Tags of the core lists are placed
here by hand, the Places365 scenes go under ``place`` unless listed, and the long tail of
RAM tags has no parent (flat keywords). build_vocab.py writes the result to
``vocab/tag-parents.txt`` as ``parent|child`` lines, the same syntax a custom vocabulary
uses. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable


def _tags(block: str) -> tuple[str, ...]:
    return tuple(t.strip() for line in block.splitlines() for t in line.split(",") if t.strip())


# Category -> its children. A child listed under two categories keeps the first.
CATEGORIES: dict[str, tuple[str, ...]] = {
    # categories under other categories
    "animal": _tags("""
        pet, farm animal, wild animal, bird, sea life, reptile, insect, wildlife, dinosaur
    """),
    "nature": _tags("plant, landscape, water, weather, sky"),
    "food and drink": _tags("food, drink"),
    "object": _tags("""
        furniture, technology, clothing, musical instrument, toy, household item,
        street furniture, sports equipment, money, flag, book, bag, key, scissors, pen,
        pencil, tools, luggage, box, basket, trash can, skull, sword, gun, telescope, tripod,
        trophy, medal, ladder, shopping cart, vending machine, mailbox, clothesline, tent,
        hammock
    """),
    "street furniture": _tags("""
        sign, traffic light, road sign, street light, stop sign, fire hydrant, parking meter,
        bus stop
    """),
    "sports equipment": _tags("""
        frisbee, surfboard, snowboard, ski, baseball bat, baseball glove, tennis racket
    """),
    "fire": _tags("smoke, campfire, bonfire"),
    "amusement park": _tags("ferris wheel, carousel, roller coaster"),
    "playground": _tags("swing, slide"),
    "beach": _tags("sandcastle"),
    "winter": _tags("snowman"),
    "flag": _tags("national flag"),
    "crowd": _tags("queue"),
    # people
    "person": _tags("""
        people, man, woman, child, baby, boy, girl, family, couple, crowd, portrait, selfie,
        group photo, face, smile, hand, eye, hair, beard, tattoo, toddler, teenager,
        elderly person, newborn, bride, groom, wedding couple, audience, spectator, tourist,
        pedestrian, athlete, dancer, musician, singer, chef, doctor, nurse, police officer,
        soldier, firefighter, farmer, worker, construction worker, student, teacher,
        photographer, artist, painter, cowboy, fisherman, baker, waiter, clown, santa claus,
        hiker, surfer, skier, swimmer, runner, skateboarder, cyclist, climber, businessman,
        businesswoman
    """),
    "clothing": _tags("""
        dress, shirt, t-shirt, jacket, coat, suit, jeans, shorts, sweater, hoodie, hat,
        baseball cap, sunglasses, glasses, shoe, boot, scarf, uniform, costume, wedding dress,
        swimwear, bikini, kimono, apron, handbag, backpack, umbrella, jewelry, necklace, ring,
        earring, wristwatch, necktie, glove, helmet, mask, halloween costume
    """),
    # animals
    "pet": _tags("dog, cat, puppy, kitten, rabbit, hamster, guinea pig, parrot, goldfish"),
    "farm animal": _tags("""
        horse, cow, sheep, chicken, duck, pig, goat, donkey, lamb, calf, rooster, hen, goose,
        turkey, cattle, livestock, herd, flock, alpaca
    """),
    "wild animal": _tags("""
        deer, fox, wolf, bear, brown bear, polar bear, lion, tiger, leopard, cheetah, elephant,
        giraffe, zebra, rhinoceros, hippo, monkey, gorilla, chimpanzee, kangaroo, koala, panda,
        squirrel, raccoon, hedgehog, bat, mouse, camel, buffalo, bison, moose, antelope
    """),
    "bird": _tags("""
        seagull, pigeon, swan, eagle, owl, falcon, crow, sparrow, hummingbird, flamingo,
        penguin, peacock, heron, pelican, robin, woodpecker
    """),
    "sea life": _tags("""
        fish, shark, whale, dolphin, seal, jellyfish, octopus, crab, starfish, coral reef
    """),
    "reptile": _tags("frog, turtle, lizard, snake, crocodile"),
    "insect": _tags("""
        butterfly, bee, ant, spider, spider web, dragonfly, ladybug, beetle, snail,
        caterpillar, moth
    """),
    # things that move
    "vehicle": _tags("""
        car, truck, bus, bicycle, motorcycle, train, airplane, boat, ship, taxi, van, suv,
        jeep, sports car, race car, police car, fire truck, ambulance, school bus, tractor,
        scooter, tram, subway, steam locomotive, helicopter, hot air balloon, sailboat, yacht,
        canoe, kayak, ferry, cruise ship, fishing boat, cargo ship, rowboat, fighter jet,
        airliner, drone, rocket, traffic, wheelchair, skateboard
    """),
    # nature
    "flower": _tags("""
        rose, tulip, sunflower, daisy, lily, orchid, lotus, lavender, cherry blossom, blossom,
        wildflower, bouquet
    """),
    "tree": _tags("palm tree, pine tree, oak tree, tree trunk, tree branch, autumn leaves"),
    "plant": _tags("""
        flower, tree, grass, cactus, succulent, houseplant, fern, moss, mushroom, bamboo,
        leaf, bush, hedge, vine, ivy
    """),
    "landscape": _tags("""
        forest, mountain, hill, beach, desert, field, meadow, island, rock, sand, coast, cliff,
        valley, countryside, farmland, vineyard, orchard, wheat field, rice field, canyon,
        cave, volcano, glacier, iceberg, dune, swamp, wetland, mountain range, snowy mountain,
        mountain peak, trail, forest path, rainforest, jungle, savanna, grassland,
        autumn forest, rock formation, boulder, seascape, cityscape, panorama
    """),
    "water": _tags("""
        sea, ocean, lake, river, waterfall, lagoon, pond, stream, creek, bay, wave, surf,
        mountain lake, hot spring, shore, horizon
    """),
    "weather": _tags("""
        rain, fog, storm, rainbow, snow, cloudy, sunny, rainy, snowy, foggy, mist, storm cloud,
        thunderstorm, lightning, snowstorm, frost, ice, icicle, tornado
    """),
    "sky": _tags("""
        cloud, sunset, sunrise, sun, moon, blue sky, night sky, stars, milky way, aurora,
        evening sky, sunshine, golden hour, dusk, dawn, twilight, moonlight, night
    """),
    "season": _tags("spring, summer, autumn, winter"),
    # places
    "building": _tags("""
        house, skyscraper, church, castle, tower, apartment building, office building,
        cottage, cabin, barn, farmhouse, mansion, palace, cathedral, chapel, mosque, temple,
        pagoda, lighthouse, windmill, ruins, fort, factory, warehouse, stadium, museum,
        hospital, school, university, library, train station, airport
    """),
    "room": _tags("""
        kitchen, bedroom, living room, bathroom, office, dining room, home office, classroom,
        hotel room, lobby, hallway, conference room, laboratory, workshop, garage
    """),
    "place": _tags("""
        building, room, city, city street, street, village, road, bridge, garden, park,
        restaurant, store, downtown, alley, plaza, town square, market, street market, night market,
        shopping street, crosswalk, intersection, highway, overpass, tunnel, parking garage,
        residential neighborhood, suburb, monument, fountain, dam, amusement park, playground,
        zoo, aquarium, art gallery, construction site, farm, pier, marina, harbor,
        parking lot, gas station, cafe, coffee shop, bar, pub, bakery, supermarket,
        shopping mall, gym, swimming pool, stage, theater, cinema, city skyline,
        city at night, underwater
    """),
    "architecture": _tags("""
        brick wall, stairs, balcony, roof, facade, doorway, arch, window, door, fence
    """),
    # food
    "food": _tags("""
        meal, cake, pizza, bread, fruit, vegetable, dessert, salad, breakfast, lunch, dinner,
        barbecue, picnic, sandwich, hamburger, hot dog, french fries, pasta, noodles, rice,
        sushi, soup, steak, meat, seafood, egg, cheese, chocolate, cookie, ice cream, cupcake,
        pie, donut, pancake, croissant, candy, street food, fast food, baked goods,
        birthday cake
    """),
    "fruit": _tags("apple, banana, orange, strawberry, grape, lemon, watermelon"),
    "vegetable": _tags("tomato, potato, carrot, corn, pumpkin"),
    "drink": _tags("coffee, wine, beer, tea, juice, cocktail, milk, champagne"),
    # objects
    "furniture": _tags("""
        table, chair, bed, couch, desk, shelf, bookshelf, dining table, bench
    """),
    "technology": _tags("""
        smartphone, computer, laptop, camera, computer monitor, keyboard, tablet computer,
        headphones, microphone, speaker, game controller, video game, robot, television,
        remote control
    """),
    "musical instrument": _tags("guitar, piano, drum, violin"),
    "toy": _tags("ball, balloon, kite, teddy bear, doll, stuffed animal"),
    "household item": _tags("""
        clock, lamp, mirror, curtain, carpet, pillow, blanket, vase, candle, picture frame,
        chandelier, fireplace, toilet, sink, bathtub, towel, oven, stove, refrigerator,
        microwave, washing machine, vacuum cleaner, toothbrush, hair dryer, plate, bowl, mug,
        fork, knife, spoon, chopsticks, cutting board, wine glass, cup, bottle
    """),
    "document": _tags("""
        text, screenshot, handwriting, letter, envelope, newspaper, magazine, book cover, map,
        menu, receipt, ticket, postcard, calendar, chart, whiteboard, blackboard, poster,
        passport, certificate, diploma, business card, postage stamp, id card, website,
        text message, qr code, bar code, logo
    """),
    "money": _tags("banknote, coin, credit card"),
    "art": _tags("""
        painting, drawing, sketch, illustration, cartoon, comic, sculpture, mosaic, pottery,
        calligraphy, embroidery, origami, graffiti, street art, mural, statue
    """),
    # events and activities
    "event": _tags("""
        wedding, birthday party, party, concert, christmas, festival, graduation, ceremony,
        parade, protest, conference, meeting, presentation, performance, fashion show,
        halloween, circus, fireworks
    """),
    "decoration": _tags("""
        christmas tree, christmas lights, christmas decoration, halloween pumpkin,
        easter egg, lantern, confetti, neon lights, gift
    """),
    "sport": _tags("""
        soccer, football, tennis, golf, basketball, baseball, volleyball, rugby, ice hockey,
        skiing, snowboarding, surfing, skateboarding, swimming, running, cycling,
        rock climbing, boxing, marathon, race, sailing, horseback riding
    """),
    "activity": _tags("""
        sport, boating, driving, sunbathing, studying, diving, cleaning, farming, digging,
        dance, ballet, hiking, camping, fishing, yoga, exercise, reading, cooking, gardening,
        shopping, travel, vacation, road trip, eating, sleeping, kiss, hug
    """),
    # pictures themselves
    "photography": _tags("""
        close-up, black and white, silhouette, reflection, aerial view, vintage, sepia,
        long exposure, motion blur, bokeh, macro photography, shadow, backlight, lens flare,
        symmetry, pattern, texture, minimalism, natural light, studio shot, flat lay,
        still life, street photography, family photo, wedding photo, old photo
    """),
    "color": _tags("""
        red, yellow, green, blue, purple, pink, brown, black, white, gray, colorful
    """),
}

PLACES_PARENT = "place"
"""The parent of Places365 scenes that no category lists."""


def parent_lines(tags: Iterable[str], places: Iterable[str]) -> list[str]:
    """``parent|child`` lines for the vocabulary's tags, in the vocabulary's order.

    ``tags``: the whole vocabulary in order; ``places``: the tags that came from Places365.
    A category that is not itself a tag of the vocabulary still gets its line when one of
    its children does (``farm animal`` leads to ``animal|farm animal``).
    """
    parent: dict[str, str] = {}
    for category, children in CATEGORIES.items():
        for child in children:
            if child != category:
                parent.setdefault(child, category)
    places = set(places)
    for tag in tags:
        if tag in places and tag not in parent and tag not in CATEGORIES:
            parent[tag] = PLACES_PARENT
    lines: list[str] = []
    wanted = [t for t in tags if t in parent]
    seen = set(wanted)
    queue = list(wanted)
    while queue:  # the categories on the way up, so every path can be rebuilt
        up = parent.get(queue.pop(0))
        if up is not None and up in parent and up not in seen:
            seen.add(up)
            wanted.append(up)
            queue.append(up)
    for child in wanted:
        lines.append(f"{parent[child]}|{child}")
    return lines


def check(tags: Iterable[str]) -> list[str]:
    """Children named in :data:`CATEGORIES` that are not tags (a typo, or a renamed tag)."""
    known = set(tags) | set(CATEGORIES)
    return sorted({c for children in CATEGORIES.values() for c in children} - known)
