"""The jam-tiny knowledge base: real, checkable facts, written by hand for this course (no copied prose).

Everything `jam-tiny` knows comes from these tables, turned into sentences by `lorajam.data`. Spellings are
plain ASCII (Bogota, Brasilia, Asuncion) so every answer is easy to type and to compare.
"""

from __future__ import annotations

# country | capital | continent. Countries whose name needs "the" or whose capital is disputed are left out.
_COUNTRIES = """
Algeria|Algiers|Africa
Angola|Luanda|Africa
Botswana|Gaborone|Africa
Cameroon|Yaounde|Africa
Egypt|Cairo|Africa
Ethiopia|Addis Ababa|Africa
Ghana|Accra|Africa
Guinea|Conakry|Africa
Kenya|Nairobi|Africa
Liberia|Monrovia|Africa
Libya|Tripoli|Africa
Madagascar|Antananarivo|Africa
Malawi|Lilongwe|Africa
Mali|Bamako|Africa
Mauritania|Nouakchott|Africa
Morocco|Rabat|Africa
Mozambique|Maputo|Africa
Namibia|Windhoek|Africa
Niger|Niamey|Africa
Nigeria|Abuja|Africa
Rwanda|Kigali|Africa
Senegal|Dakar|Africa
Somalia|Mogadishu|Africa
Sudan|Khartoum|Africa
Tanzania|Dodoma|Africa
Tunisia|Tunis|Africa
Uganda|Kampala|Africa
Zambia|Lusaka|Africa
Zimbabwe|Harare|Africa
Gabon|Libreville|Africa
Eritrea|Asmara|Africa
Sierra Leone|Freetown|Africa
Lesotho|Maseru|Africa
Burkina Faso|Ouagadougou|Africa
China|Beijing|Asia
Japan|Tokyo|Asia
India|New Delhi|Asia
Pakistan|Islamabad|Asia
Bangladesh|Dhaka|Asia
Nepal|Kathmandu|Asia
Bhutan|Thimphu|Asia
Thailand|Bangkok|Asia
Vietnam|Hanoi|Asia
Laos|Vientiane|Asia
Cambodia|Phnom Penh|Asia
Myanmar|Naypyidaw|Asia
Malaysia|Kuala Lumpur|Asia
Indonesia|Jakarta|Asia
South Korea|Seoul|Asia
North Korea|Pyongyang|Asia
Mongolia|Ulaanbaatar|Asia
Iran|Tehran|Asia
Iraq|Baghdad|Asia
Syria|Damascus|Asia
Jordan|Amman|Asia
Lebanon|Beirut|Asia
Saudi Arabia|Riyadh|Asia
Oman|Muscat|Asia
Qatar|Doha|Asia
Kuwait|Kuwait City|Asia
Afghanistan|Kabul|Asia
Uzbekistan|Tashkent|Asia
Kazakhstan|Astana|Asia
Kyrgyzstan|Bishkek|Asia
Tajikistan|Dushanbe|Asia
Turkmenistan|Ashgabat|Asia
Bahrain|Manama|Asia
France|Paris|Europe
Germany|Berlin|Europe
Spain|Madrid|Europe
Portugal|Lisbon|Europe
Italy|Rome|Europe
Greece|Athens|Europe
Austria|Vienna|Europe
Switzerland|Bern|Europe
Belgium|Brussels|Europe
Ireland|Dublin|Europe
Norway|Oslo|Europe
Sweden|Stockholm|Europe
Finland|Helsinki|Europe
Denmark|Copenhagen|Europe
Iceland|Reykjavik|Europe
Poland|Warsaw|Europe
Hungary|Budapest|Europe
Romania|Bucharest|Europe
Bulgaria|Sofia|Europe
Serbia|Belgrade|Europe
Croatia|Zagreb|Europe
Slovenia|Ljubljana|Europe
Slovakia|Bratislava|Europe
Ukraine|Kyiv|Europe
Belarus|Minsk|Europe
Lithuania|Vilnius|Europe
Latvia|Riga|Europe
Estonia|Tallinn|Europe
Albania|Tirana|Europe
Moldova|Chisinau|Europe
Montenegro|Podgorica|Europe
Malta|Valletta|Europe
Czechia|Prague|Europe
North Macedonia|Skopje|Europe
Canada|Ottawa|North America
Mexico|Mexico City|North America
Cuba|Havana|North America
Jamaica|Kingston|North America
Haiti|Port-au-Prince|North America
Guatemala|Guatemala City|North America
Honduras|Tegucigalpa|North America
Nicaragua|Managua|North America
Costa Rica|San Jose|North America
Panama|Panama City|North America
El Salvador|San Salvador|North America
Belize|Belmopan|North America
Barbados|Bridgetown|North America
Brazil|Brasilia|South America
Argentina|Buenos Aires|South America
Chile|Santiago|South America
Peru|Lima|South America
Colombia|Bogota|South America
Venezuela|Caracas|South America
Ecuador|Quito|South America
Uruguay|Montevideo|South America
Paraguay|Asuncion|South America
Guyana|Georgetown|South America
Suriname|Paramaribo|South America
Australia|Canberra|Oceania
New Zealand|Wellington|Oceania
Fiji|Suva|Oceania
Samoa|Apia|Oceania
Papua New Guinea|Port Moresby|Oceania
Vanuatu|Port Vila|Oceania
"""

# animal | plural | sound (noun) | young | group noun (as in "a pride of lions")
_ANIMALS = """
dog|dogs|bark|puppy|pack
cat|cats|meow|kitten|clowder
cow|cows|moo|calf|herd
horse|horses|neigh|foal|team
pig|pigs|oink|piglet|drove
sheep|sheep|baa|lamb|flock
goat|goats|bleat|kid|trip
duck|ducks|quack|duckling|paddling
chicken|chickens|cluck|chick|brood
goose|geese|honk|gosling|gaggle
lion|lions|roar|cub|pride
tiger|tigers|growl|cub|streak
bear|bears|grunt|cub|sloth
wolf|wolves|howl|pup|pack
fox|foxes|yelp|kit|skulk
owl|owls|hoot|owlet|parliament
crow|crows|caw|chick|murder
frog|frogs|croak|tadpole|army
snake|snakes|hiss|hatchling|den
bee|bees|buzz|larva|swarm
elephant|elephants|trumpet|calf|herd
donkey|donkeys|bray|foal|pace
mouse|mice|squeak|pup|mischief
monkey|monkeys|chatter|infant|troop
dolphin|dolphins|click|calf|pod
whale|whales|song|calf|pod
turkey|turkeys|gobble|poult|rafter
pigeon|pigeons|coo|squab|flock
deer|deer|bell|fawn|herd
kangaroo|kangaroos|chortle|joey|mob
rabbit|rabbits|thump|kit|colony
cricket|crickets|chirp|nymph|orchestra
eagle|eagles|screech|eaglet|convocation
swan|swans|whoop|cygnet|bevy
seal|seals|bark|pup|colony
bat|bats|squeak|pup|colony
camel|camels|grunt|calf|caravan
giraffe|giraffes|hum|calf|tower
zebra|zebras|bark|foal|dazzle
hippo|hippos|wheeze|calf|bloat
rhino|rhinos|snort|calf|crash
gorilla|gorillas|grunt|infant|band
penguin|penguins|squawk|chick|waddle
parrot|parrots|squawk|chick|pandemonium
hyena|hyenas|laugh|cub|clan
otter|otters|squeal|pup|romp
crocodile|crocodiles|bellow|hatchling|bask
peacock|peacocks|scream|peachick|muster
flamingo|flamingos|honk|chick|flamboyance
llama|llamas|hum|cria|herd
hummingbird|hummingbirds|hum|chick|charm
leopard|leopards|rasp|cub|leap
jaguar|jaguars|roar|cub|shadow
ferret|ferrets|dook|kit|business
"""

# Each word appears in one pair only, so "the opposite of X" has one answer.
_ANTONYMS = """
hot cold|big small|long short|fast slow|happy sad|up down|open closed|light dark|early late|old young
full empty|hard soft|wet dry|clean dirty|rich poor|strong weak|loud quiet|thick thin|wide narrow|high low
in out|on off|left right|true false|good bad|day night|black white|love hate|push pull|win lose
buy sell|give take|come go|start finish|begin end|first last|above below|before after|inside outside|front back
north south|east west|top bottom|sweet sour|alive dead|brave cowardly|safe dangerous|cheap expensive|easy difficult
friend enemy|question answer|laugh cry|sharp blunt|smooth rough|deep shallow|near far|always never|asleep awake
arrive depart|accept refuse|add subtract|increase decrease|inhale exhale|import export|maximum minimum|major minor
polite rude|public private|visible invisible|possible impossible|remember forget|tight loose|wild tame
summer winter|success failure|victory defeat|fresh stale|generous selfish|guilty innocent|healthy sick
friendly hostile|entrance exit|floor ceiling|shout whisper|sunrise sunset|male female|king queen|boy girl
man woman|husband wife|brother sister|uncle aunt|nephew niece|teacher student|parent child|ancient modern
float sink|freeze melt|borrow lend|catch throw|include exclude|vertical horizontal|positive negative|plus minus
send receive|lead follow|save spend|tidy messy|ugly beautiful|heavy weightless|dull interesting|war peace
"""

# thing (as written after "the colour of") | colour
_COLOURS = """
the sky|blue
grass|green
snow|white
coal|black
a banana|yellow
a tomato|red
a carrot|orange
a lemon|yellow
a strawberry|red
blood|red
milk|white
chocolate|brown
a pumpkin|orange
a lime|green
a cherry|red
the sun|yellow
the sea|blue
a crow|black
a flamingo|pink
an elephant|grey
soot|black
an emerald|green
a ruby|red
a sapphire|blue
a pearl|white
an eggplant|purple
a plum|purple
a cucumber|green
a polar bear|white
ash|grey
cinnamon|brown
a fire truck|red
a school bus|yellow
a pea|green
a blueberry|blue
a pig|pink
a violet|purple
chalk|white
a coconut|brown
a mouse|grey
"""

NUMBER_WORDS: dict[int, str] = {
    0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
    9: "nine", 10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen",
    16: "sixteen", 17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty", 30: "thirty", 40: "forty",
    50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety", 100: "one hundred",
}

DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)
# Small sums a + b with 0 <= a, b <= SUM_MAX.
SUM_MAX = 10


def _rows(table: str) -> list[list[str]]:
    return [line.split("|") for line in table.strip().splitlines()]


COUNTRIES: tuple[tuple[str, str, str], ...] = tuple((c, cap, cont) for c, cap, cont in _rows(_COUNTRIES))
ANIMALS: tuple[tuple[str, str, str, str, str], ...] = tuple(tuple(r) for r in _rows(_ANIMALS))  # type: ignore[misc]
ANTONYMS: tuple[tuple[str, str], ...] = tuple(
    tuple(pair.split()) for line in _ANTONYMS.strip().splitlines() for pair in line.split("|")  # type: ignore[misc]
)
COLOURS: tuple[tuple[str, str], ...] = tuple((thing, colour) for thing, colour in _rows(_COLOURS))
SUMS: tuple[tuple[int, int], ...] = tuple((a, b) for a in range(SUM_MAX + 1) for b in range(SUM_MAX + 1))
