"""The texts of the synthetic OCR data: a built-in list of common English words and random strings.

:func:`random_text` draws one text the way both the scene images and the recognition crops do: a word from
:data:`WORDS` in about 70 % of the draws (lower case, Capitalised or UPPER, now and then with a trailing
punctuation mark), otherwise a random string: digits, a date (``12/05/2024``, ``2024-05-12``, ``12.05.24``),
a code (``AB-1234``, ``X7K9Q2``) or a price (``$12.50``). Every character it writes is in
:data:`TEXT_ALPHABET`, a subset of printable ASCII without the space (:data:`CHARSET`): the symbols that the
TeX fonts of matplotlib draw at their ASCII code points (see :mod:`.fonts`). Never ``###`` (the ignore label).
"""

from __future__ import annotations

import string

import numpy as np

__all__ = ["CHARSET", "SYMBOLS", "TEXT_ALPHABET", "WORDS", "random_text"]

CHARSET = "".join(chr(code) for code in range(33, 127))  # printable ASCII without the space (94)
SYMBOLS = "!#$%&'()+,-./:;?@"  # the symbols random_text may write
TEXT_ALPHABET = string.ascii_letters + string.digits + SYMBOLS

_WORD_TEXT = """
a able about above accept accident account across act action active activity actor actual add address
admit adult advance advice affair affect afford afraid after afternoon again against age agency agent ago
agree ahead aid aim air airport alarm album alive all allow almost alone along already also alter always
amazing among amount analyst ancient anger angle angry animal annual another answer anxiety any anybody
anyone anything anyway apart apartment apple apply approach april area argue arise arm army around arrange
arrest arrival arrive art article artist aside ask asleep aspect assist assume attack attempt attend
attitude attract audience august aunt author auto autumn available average avoid awake award aware away
baby back bad bag bake balance ball band bank bar base basic basket bath battle beach bean bear beat
beautiful beauty because become bed bedroom beef beer before begin behind being belief believe bell belong
below belt bench bend benefit best better between beyond bicycle big bike bill bird birth birthday bit bite
bitter black blade blame blank blind block blood blow blue board boat body boil bone bonus book boost boot
border borrow boss both bottle bottom bowl box boy brain branch brand brave bread break breakfast breath
brick bridge brief bright bring broad brother brown brush budget build building bunch burn bus business busy
butter button buy cabin cable cake call calm camera camp campus can canal cancel candle candy cap capital
car card care career careful carpet carry case cash castle cat catch cause ceiling cell center central
century chain chair chalk champion chance change channel chapter charge chart cheap check cheese chef chest
chicken chief child choice choose church circle citizen city civil claim class classic clean clear clerk
clever client climate climb clock close cloth cloud club coach coast coat code coffee coin cold collect
college colour column combine come comfort comment common company compare complete computer concept concert
condition confirm connect consider contact contain content contest context continue contract control cook
cookie cool copy corner correct cost cotton couch count country couple courage course court cousin cover
cow crack craft crash crazy cream create credit crew crime crisis critic crop cross crowd crown cruel cry
culture cup curious current curve custom customer cut cycle dad daily damage dance danger dark data date
daughter day dead deal dear death debate debt decade december decide deep deer defeat defend degree delay
deliver demand dentist deny depart depend deposit depth design desk detail develop device diamond diary
diet differ digital dinner direct dirt dirty discount discuss dish display distance district divide doctor
document dog dollar domain door double doubt down dozen draft drama draw dream dress drink drive driver drop
drug dry duck during dust duty each eager eagle early earn earth east easy eat economy edge edit editor
educate effect effort egg eight either elbow elder elect electric element elephant else email emerge empty
end enemy energy engine enjoy enough enter entire entry equal error escape essay estate even evening event
ever every evidence exact exam example except excess exchange excite excuse exercise exist exit expand
expect expert explain export express extend extra eye face fact factor factory fail fair faith fall false
family famous fan fancy far farm fashion fast fat father fault favour fear feature february fee feed feel
female fence festival fever few field fifteen fifty fight figure file fill film final finance find fine
finger finish fire firm first fish fit five fix flag flat flavour flight float floor flour flow flower fly
focus fold folk follow food foot force forest forget fork form formal former fortune forty forward found
four frame free freeze fresh friday friend front frost fruit fuel full fun fund funny future gain gallery
game garage garden gas gate gather general gentle gift girl give glad glass global glove goal gold golden
golf good govern grab grade grain grand grant grape grass great green greet grey ground group grow growth
guard guess guest guide guitar habit hair half hall hand handle hang happen happy harbour hard harm hat hate
have head health hear heart heat heavy height hello help hero hidden high hill hire history hit hobby hold
hole holiday hollow home honest honey hope horse hospital host hot hotel hour house huge human humour
hundred hungry hunt hurry hurt husband ice idea ideal ignore ill image impact import improve inch include
income increase index indoor industry inform injury inner input insect inside insist install instead
insure intend interest invest invite iron island issue item jacket january jazz job join joke journal
journey joy judge juice july jump june jungle junior jury just keen keep kettle key kick kid kind king
kitchen knee knife knock know label labour lack lady lake lamp land language large last late laugh launch
law lawyer layer lazy lead leader leaf league lean learn least leather leave lecture left leg legal lemon
lend length lesson letter level library license lid life lift light like limit line link lion lip liquid
list listen little live load loan local lock logic lonely long look loose lose loss lot loud love lovely
low loyal luck lucky lunch machine magic mail main major make male mall man manage manner map march mark
market marriage master match material matter maximum maybe meal mean measure meat media medical medium meet
member memory mental menu mercy mess message metal method middle midnight might mild mile milk mill mind
minor minute mirror miss mistake mix mobile model modern moment monday money monitor month mood moon moral
more morning most mother motor mountain mouse mouth move movie much mud muscle museum music must mystery
nail name narrow nation native nature near neat neck need needle negative nerve nest net network never new
news next nice night nine noble noise none normal north nose note nothing notice novel november now number
nurse object obtain ocean october odd offer office often oil okay old olive once one onion online only open
opera option orange order ordinary organ origin other outdoor output outside oven over owner oxygen pace
pack package page pain paint pair palace pale panel panic paper parade parent park part partner party pass
passage past patch path patient pattern pause pay peace peak pen pencil people pepper perfect perform
period permit person pet phone photo piano pick picnic picture piece pig pile pilot pink pipe pitch pizza
place plain plan planet plant plastic plate platform play player please plenty pocket poem poet point
police policy polish polite pool poor popular port position post pot potato pound powder power practice
praise pray prefer prepare present press pretty prevent price pride priest prince print prior prison
private prize problem process produce product profit program project promise proof proper protect proud
prove public pull pump punch pupil pure purple purpose push put quality quarter queen question quick quiet
quite quote rabbit race radio rail rain raise range rapid rare rate rather raw reach react read ready real
reason recall receive recipe record red reduce reflect reform refuse region regret relax release relief
rely remain remember remote remove rent repair repeat reply report rescue reserve resort rest result return
reveal review reward rhythm rice rich ride right ring rise risk river road rock role roll roof room root
rope rose rough round route row royal rubber rude ruin rule run rural rush sad safe safety sail salad salary
sale salt same sample sand saturday sauce save say scale scene school science score screen sea search
season seat second secret section secure see seed seek sell send senior sense series serious serve service
session set settle seven shade shadow shake shallow shape share sharp sheep sheet shelf shell shift shine
ship shirt shock shoe shoot shop shore short shot shoulder shout show shower shut shy sick side sight sign
signal silent silk silly silver simple since sing single sister sit site six size skill skin skirt sky
sleep slice slide slight slim slow small smart smell smile smoke smooth snack snake snow soap social sock
soft soil soldier solid solve some son song soon sorry sort soul sound soup source south space spare speak
special speech speed spell spend spice spider spirit split sport spot spread spring square staff stage
stair stamp stand standard star start state station stay steady steal steam steel step stick still stock
stomach stone stop store storm story stove straight strange stream street stress strike string strong
student studio study stuff style subject success sudden sugar suit summer sun sunday super supply support
sure surface surprise survey sweet swim switch symbol system table tail take talent talk tall tank tape
target task taste tax taxi tea teach team tear technical teeth telephone tell temple ten tennis tent term
test text thank theatre theme theory thick thin thing think third thirty thought thousand thread three
throat through throw thursday ticket tidy tie tiger tight time tiny tip tired title toast today toe
together toilet tomato tomorrow tone tongue tonight tool tooth top topic total touch tough tour tourist
towel tower town toy track trade traffic train transfer travel treat tree trend trial trick trip trouble
truck true trust truth try tuesday tune tunnel turn twelve twenty twice twin type typical ugly uncle under
unfair uniform union unique unit universe unknown until unusual update upper upset urban urge use useful
usual valley value van various vast vehicle version very victim video view village violin virus visit
visual voice volume vote wage wait wake walk wall wallet want war warm warn wash waste watch water wave way
weak wealth weapon wear weather wedding wednesday week weekend weight welcome well west wet whale wheat
wheel while whisper white whole wide wife wild will win wind window wine wing winner winter wire wise wish
within without woman wonder wood wool word work worker world worry worth wrap write writer wrong yard year
yellow yes yesterday yet yoga young youth zebra zero zone zoo
abroad absent absorb abuse academy accent access acid acre adapt admire adopt advert aerial agenda alien
alley allergy alpha amateur amber anchor angel ankle antique appeal arch arena arrow aside asset athlete
atom attic auction avenue bacon badge bakery ballet bamboo banana banner barn barrel basin battery bay beam
beard beast bee beetle berry bet bible bind biscuit blanket blend bless blossom board bolt bomb bond boom
boxing bracket brake brass bread breeze bride broom bubble bucket buffalo bulb bull bullet burger bush
butterfly cabbage cactus cage calendar camel canvas canyon captain carbon cargo carrot cart cartoon casino
cattle cave cereal cherry chess chimney chip chorus cinema circus clay cliff clinic clip coal cobra cocoa
coconut comedy comic compass copper coral cottage cotton crab crane crayon cricket crystal cube cucumber
cupboard curtain cushion dairy daisy dawn deck delta desert dessert dial dinosaur diver dock dolphin donkey
dragon drawer drum eagle echo eclipse elastic elbow ember engine envelope equator fabric falcon feather
ferry fiddle fig flame flute foam fog fossil fountain fox frog galaxy garlic gear geese ghost giant ginger
giraffe glacier globe goat gorilla gravel gravity guitar gym hammer hamster harbor harvest hawk hazel helmet
herb hive hockey honey hook horizon horn hut igloo ink insect iris ivory jaguar jar jeans jelly jewel kayak
kernel kiwi koala ladder lagoon lamb lantern laptop lava lawn lens leopard lettuce lily lime lizard lobster
locket magnet mango maple marble mask meadow melon meteor microwave mint mole monkey moose mosaic moss moth
muffin mushroom napkin nectar noodle nut oak oasis orbit orchid ostrich otter owl oyster paddle palm panda
pants parrot pasta peach peanut pear pearl pebble pelican penguin pepper piano pillow pine pineapple pirate
plum pony poppy porch prism pumpkin puppet puzzle pyramid quartz quilt raccoon radar raft rainbow raven
reef rhino ribbon robot rocket saddle sailor salmon sandal satellite saucer scarf scooter seal shark shelf
shrimp skate skull sled sloth snail sofa spear sponge spoon squid squirrel stadium starfish statue stool
strawberry submarine suitcase sunset swan sweater sword syrup tablet tambourine teapot telescope thunder
tiger timber toad tomato torch tortoise tractor trolley trophy trumpet tulip turkey turtle umbrella unicorn
vanilla vase velvet violet volcano waffle walnut walrus wasp whistle willow wizard wolf yacht yogurt zipper
"""

WORDS: tuple[str, ...] = tuple(dict.fromkeys(_WORD_TEXT.split()))
_CODE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I or O: in a code they read as 1 and 0
_CODE_DIGITS = "23456789"
_PUNCTUATION = ".,!?:;"


def _word(rng: np.random.Generator) -> str:
    word = WORDS[int(rng.integers(len(WORDS)))]
    case = rng.random()
    if case < 0.2:
        word = word.upper()
    elif case < 0.5:
        word = word.capitalize()
    extra = rng.random()
    if extra < 0.06:
        word += _PUNCTUATION[int(rng.integers(len(_PUNCTUATION)))]
    elif extra < 0.08:
        word = f"({word})"
    elif extra < 0.1 and not word.isupper():
        word += "'s"
    return word


def _digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=count))


def _date(rng: np.random.Generator) -> str:
    day, month, year = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1960, 2040))
    style = int(rng.integers(3))
    if style == 0:
        return f"{day:02d}/{month:02d}/{year}"
    if style == 1:
        return f"{year}-{month:02d}-{day:02d}"
    return f"{day:02d}.{month:02d}.{year % 100:02d}"


def _code(rng: np.random.Generator) -> str:
    def pick(alphabet: str, count: int) -> str:
        return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), size=count))

    if rng.random() < 0.5:
        return f"{pick(_CODE_LETTERS, int(rng.integers(1, 4)))}-{pick(_CODE_DIGITS, int(rng.integers(2, 5)))}"
    return "".join(pick(_CODE_LETTERS if rng.random() < 0.5 else _CODE_DIGITS, 1) for _ in range(6))


def _price(rng: np.random.Generator) -> str:
    whole = int(rng.integers(1, 1000)) if rng.random() < 0.8 else int(rng.integers(1000, 10000))
    return f"${whole}.{int(rng.integers(0, 100)):02d}" if rng.random() < 0.7 else f"${whole}"


def random_text(rng: np.random.Generator) -> str:
    """One text: a word (~70 %) or a random string (digits, date, code, price, percentage; ~30 %)."""
    draw = rng.random()
    if draw < 0.7:
        return _word(rng)
    if draw < 0.77:
        return _digits(rng, int(rng.integers(2, 8)))
    if draw < 0.84:
        return _date(rng)
    if draw < 0.92:
        return _code(rng)
    if draw < 0.98:
        return _price(rng)
    return f"{int(rng.integers(1, 100))}%"
