"""Small general-English word lists used by speaker attribution: titles, speech verbs, epithets.

They are deliberately short and book-agnostic; anything specific to one novel belongs in tests.
"""

from __future__ import annotations

from typing import Literal

Gender = Literal["female", "male", "unknown"]


def word_set(text: str) -> frozenset[str]:
    """A word list written as running text, so that long lists stay readable."""
    return frozenset(text.split())


# How a title is followed: "surname" titles (Mr. Bennet) never take a given name, "given" titles
# (Sir William) always do, "either" titles (Lady Catherine / Lady Lucas) take both.
TITLES: dict[str, tuple[Gender, Literal["surname", "given", "either"]]] = {
    "mr": ("male", "surname"),
    "mister": ("male", "surname"),
    "mrs": ("female", "surname"),
    "ms": ("female", "surname"),
    "miss": ("female", "either"),
    "mme": ("female", "surname"),
    "madame": ("female", "surname"),
    "mlle": ("female", "surname"),
    "mademoiselle": ("female", "surname"),
    "monsieur": ("male", "surname"),
    "signor": ("male", "surname"),
    "signora": ("female", "surname"),
    "herr": ("male", "surname"),
    "frau": ("female", "surname"),
    "lady": ("female", "either"),
    "lord": ("male", "either"),
    "sir": ("male", "given"),
    "dame": ("female", "given"),
    "master": ("male", "either"),
    "colonel": ("male", "surname"),
    "captain": ("male", "surname"),
    "major": ("male", "surname"),
    "general": ("male", "surname"),
    "lieutenant": ("male", "surname"),
    "sergeant": ("male", "surname"),
    "admiral": ("male", "surname"),
    "inspector": ("male", "surname"),
    "dr": ("unknown", "surname"),
    "doctor": ("unknown", "surname"),
    "professor": ("unknown", "surname"),
    "rev": ("male", "surname"),
    "reverend": ("male", "surname"),
    "father": ("male", "either"),
    "brother": ("male", "given"),
    "sister": ("female", "given"),
    "mother": ("female", "either"),
    "aunt": ("female", "given"),
    "uncle": ("male", "given"),
    "cousin": ("unknown", "given"),
    "count": ("male", "either"),
    "countess": ("female", "either"),
    "baron": ("male", "either"),
    "baroness": ("female", "either"),
    "duke": ("male", "either"),
    "duchess": ("female", "either"),
    "prince": ("male", "given"),
    "princess": ("female", "given"),
    "king": ("male", "given"),
    "queen": ("female", "given"),
}

# Inflected forms of verbs that introduce or report speech.
SPEECH_VERBS: frozenset[str] = word_set(
    """
    said says say saying replied replies answered answers returned returns cried cries exclaimed
    exclaims asked asks inquired inquires enquired enquires observed observes remarked remarks
    added adds continued continues resumed resumes rejoined rejoins retorted retorts repeated
    repeats began begins interrupted interrupts whispered whispers murmured murmurs muttered
    mutters shouted shouts called calls screamed screams sighed sighs laughed laughs urged urges
    pleaded pleads declared declares protested protests explained explains suggested suggests
    agreed agrees admitted admits insisted insists demanded demands responded responds concluded
    concludes persisted persists stammered stammers faltered falters groaned groans growled
    growls snapped snaps cried sobbed sobs gasped gasps panted pants thought thinks wondered
    wonders spoke speaks addressed addresses exclaimed observed ventured ventures echoed echoes
    assented assents objected objects hinted hints shrieked shrieks roared roars sneered sneers
    smiled smiles grinned grins yelled yells bawled bawls announced announces related relates
    recommenced recommences proceeded proceeds affirmed affirms confessed confesses explained
    pursued pursues went goes broke breaks burst bursts put puts chimed chimes accosted accosts
    greeted greets interposed interposes drawled drawls scolded scolds warned warns chuckled
    chuckles commented comments
    """
)

# Verbs that need a particle to mean speech ("went on", "broke in", "burst out", "put in").
PARTICLE_VERBS: dict[str, frozenset[str]] = {
    "went": frozenset({"on"}),
    "goes": frozenset({"on"}),
    "broke": frozenset({"in", "out", "off"}),
    "breaks": frozenset({"in", "out"}),
    "burst": frozenset({"out", "forth"}),
    "bursts": frozenset({"out", "forth"}),
    "put": frozenset({"in"}),
    "puts": frozenset({"in"}),
    "chimed": frozenset({"in"}),
    "chimes": frozenset({"in"}),
}

# Verbs saying the speaker carries on their own turn, or answers somebody else.
CONTINUATION_VERBS: frozenset[str] = word_set(
    """
    continued continues added adds resumed resumes went goes persisted persists proceeded
    proceeds pursued pursues recommenced recommences
    """
)
REPLY_VERBS: frozenset[str] = word_set(
    """
    replied replies answered answers returned returns rejoined rejoins retorted retorts
    responded responds
    """
)

SUBJECT_PRONOUNS: dict[str, Gender] = {"he": "male", "she": "female"}
FIRST_PERSON = "I"

# Nouns that can stand for a character ("the old man", "her companion") with their gender.
EPITHET_NOUNS: dict[str, Gender] = {
    "man": "male",
    "gentleman": "male",
    "boy": "male",
    "lad": "male",
    "fellow": "male",
    "woman": "female",
    "lady": "female",
    "girl": "female",
    "maid": "female",
    "child": "unknown",
    "stranger": "unknown",
    "visitor": "unknown",
    "guest": "unknown",
    "friend": "unknown",
    "companion": "unknown",
    "host": "male",
    "hostess": "female",
    "servant": "unknown",
    "widow": "female",
    "lover": "unknown",
    "youth": "male",
    "doctor": "unknown",
    "colonel": "male",
    "captain": "male",
    "officer": "male",
    "landlord": "male",
    "landlady": "female",
    "wife": "female",
    "husband": "male",
    "mother": "female",
    "father": "male",
    "sister": "female",
    "brother": "male",
    "daughter": "female",
    "son": "male",
    "aunt": "female",
    "uncle": "male",
    "niece": "female",
    "nephew": "male",
    "cousin": "unknown",
    "mistress": "female",
    "master": "male",
    "lordship": "male",
    "ladyship": "female",
}

# Family relations whose bearer shares the possessor's surname: "his wife" of Mr. X is Mrs. X.
SPOUSE_RELATIONS: frozenset[str] = frozenset({"wife", "husband", "lady"})
PARENT_RELATIONS: frozenset[str] = frozenset({"mother", "father"})
SIBLING_RELATIONS: frozenset[str] = frozenset({"sister", "brother", "daughter", "son"})

# "The other", "the latter": a speaker defined only against the previous one.
CONTRASTIVE_EPITHETS: frozenset[str] = frozenset({"other", "latter", "former", "second", "first"})

# Terms of address that are not names but tell the addressee's gender.
KIN_VOCATIVES: dict[str, Gender] = {
    "mama": "female",
    "mamma": "female",
    "mother": "female",
    "mum": "female",
    "mummy": "female",
    "papa": "male",
    "father": "male",
    "dad": "male",
    "daddy": "male",
    "sir": "male",
    "madam": "female",
    "ma’am": "female",
    "ma'am": "female",
    "aunt": "female",
    "uncle": "male",
    "son": "male",
    "sister": "female",
    "brother": "male",
}
PARENT_VOCATIVES: frozenset[str] = frozenset(
    {"mama", "mamma", "mother", "mum", "mummy", "papa", "father", "dad", "daddy"}
)
# Titles a parent of grown children is called by.
PARENT_TITLES: frozenset[str] = frozenset({"mr", "mrs", "lady", "sir", "lord"})

# Capitalised words that are never a character's name even when they look like one.
NON_NAMES: frozenset[str] = word_set(
    """
    I I’m I’ll I’ve I’d A An The This That These Those There Then Than Though Thus Their They
    Them He She It We You Your Yours Our His Her Hers Its My Me Mine Who Whom Whose What When
    Where Why How Which While Whilst If Unless Until Till As At By For From In Into Of On Onto
    Or Nor And But So Yet Not No Nay Yes Aye Oh O Ah Alas Well Now Here Pray Do Does Did Is Are
    Was Were Be Been Let Indeed Perhaps Surely Certainly Only Even Still Very All Any Some Every
    Each Both Either Neither Such One Two Three Four Five Six Seven Eight Nine Ten After Before
    Again Also Besides However Nothing Everything Something Anything Nobody Everybody Somebody
    Anybody Everyone Someone Anyone None Upon With Without Within About Above Below Over Under
    Between Among Through Though Although Because Since Whether Whatever Whoever Whenever
    Wherever Come Go Good Dear Poor Sir Madam Lord Lady God Heaven Heavens Christ Jesus Mr Mrs
    Miss Ms Dr St Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February
    March April May June July August September October November December Christmas Easter
    Michaelmas English French German Italian Spanish American Chapter Book Part Volume Hush
    Hurrah Hallo Hello Goodbye Good-bye Bless Mercy Upon Shall Will Would Could Should Must
    Might May Can Cannot Don’t Didn’t Isn’t Wasn’t Won’t Can’t Ha Hm Hum Eh Ugh Fie Tut Mamma
    Mama Papa Father Mother Aunt Uncle Sister Brother Cousin Master Mistress Majesty Highness
    Grace Excellency Ladyship Lordship Oh-h OK Ok Really Quite Never Ever Always Most More Much
    Many Few First Last Next Just Tell Look See Say Said Thank Thanks Please Sorry Mademoiselle
    Madame Monsieur
    """
)

# Common English given names, for gender when the text gives no title or pronoun.
FEMALE_NAMES: frozenset[str] = word_set(
    """
    Abigail Ada Agnes Alice Amelia Amy Ann Anna Anne Annie Augusta Barbara Beatrice Bella Bertha
    Betsy Betty Bridget Caroline Catherine Cecilia Charlotte Clara Constance Cora Daisy Diana
    Dora Dorothy Edith Eleanor Elinor Eliza Elizabeth Ella Ellen Elsie Emily Emma Esther Ethel
    Eva Evelyn Fanny Flora Florence Frances Georgiana Grace Hannah Harriet Helen Henrietta
    Isabel Isabella Jane Janet Jean Jennie Jenny Jessie Joan Josephine Julia Kate Katherine
    Kitty Laura Lily Louisa Lucy Lydia Mabel Margaret Maria Marianne Marion Martha Mary Maud Meg
    Millie Molly Nancy Nell Nelly Nora Olivia Penelope Phoebe Polly Rachel Rebecca Rose Ruth
    Sally Sarah Sophia Sophie Susan Sylvia Theresa Victoria Violet Virginia Winifred
    """
)
MALE_NAMES: frozenset[str] = word_set(
    """
    Albert Alexander Alfred Andrew Anthony Arthur Benjamin Bernard Bill Bob Charles Charley
    Charlie Christopher Daniel David Dick Edgar Edmund Edward Ernest Francis Frank Fred
    Frederick George Gerald Gilbert Harold Harry Henry Herbert Horace Hugh Isaac Jack Jacob
    James Jim Joe John Joseph Lawrence Leonard Louis Martin Matthew Michael Ned Nicholas Oliver
    Patrick Paul Peter Philip Ralph Randolph Richard Robert Roger Samuel Sam Simon Stephen
    Thomas Tom Walter William Will
    """
)

# Familiar forms of given names (general English), so "Lizzy" joins "Elizabeth".
NICKNAMES: dict[str, str] = {
    "Lizzy": "Elizabeth",
    "Lizzie": "Elizabeth",
    "Liz": "Elizabeth",
    "Eliza": "Elizabeth",
    "Beth": "Elizabeth",
    "Betsy": "Elizabeth",
    "Bess": "Elizabeth",
    "Bessie": "Elizabeth",
    "Kitty": "Catherine",
    "Kate": "Catherine",
    "Katie": "Catherine",
    "Meg": "Margaret",
    "Maggie": "Margaret",
    "Peggy": "Margaret",
    "Polly": "Mary",
    "Molly": "Mary",
    "Fanny": "Frances",
    "Nelly": "Eleanor",
    "Sally": "Sarah",
    "Sukey": "Susan",
    "Susie": "Susan",
    "Annie": "Anne",
    "Nancy": "Anne",
    "Bella": "Isabella",
    "Will": "William",
    "Willy": "William",
    "Bill": "William",
    "Billy": "William",
    "Bob": "Robert",
    "Bobby": "Robert",
    "Dick": "Richard",
    "Ned": "Edward",
    "Ted": "Edward",
    "Teddy": "Edward",
    "Charley": "Charles",
    "Charlie": "Charles",
    "Harry": "Henry",
    "Jack": "John",
    "Johnny": "John",
    "Jim": "James",
    "Jimmy": "James",
    "Tom": "Thomas",
    "Tommy": "Thomas",
    "Fred": "Frederick",
    "Freddy": "Frederick",
    "Joe": "Joseph",
    "Sam": "Samuel",
    "Ben": "Benjamin",
    "Frank": "Francis",
    "Frankie": "Francis",
    "Alec": "Alexander",
    "Sandy": "Alexander",
    "Andy": "Andrew",
    "Tony": "Anthony",
    "Hal": "Henry",
    "Hank": "Henry",
    "Nat": "Nathaniel",
    "Dan": "Daniel",
    "Danny": "Daniel",
    "Davy": "David",
    "Pat": "Patrick",
    "Steve": "Stephen",
    "Phil": "Philip",
    "Georgie": "George",
    "Archie": "Archibald",
    "Reggie": "Reginald",
    "Algy": "Algernon",
    "Gerry": "Gerald",
    "Jenny": "Jane",
    "Jennie": "Jane",
    "Dolly": "Dorothy",
    "Dora": "Dorothy",
    "Lottie": "Charlotte",
    "Lotty": "Charlotte",
    "Carrie": "Caroline",
    "Cissy": "Cecilia",
    "Gussie": "Augusta",
    "Tilly": "Matilda",
    "Letty": "Letitia",
    "Nell": "Eleanor",
    "Nellie": "Eleanor",
    "Kit": "Catherine",
}

# Verbs whose subject is, in practice, a person: evidence that a capitalised word names one.
PERSON_VERBS: frozenset[str] = SPEECH_VERBS | word_set(
    """
    looked smiled laughed felt thought knew saw turned nodded stood sat walked wondered wished
    hoped seemed glanced blushed frowned hesitated paused sighed shrugged wept listened rose
    followed entered married loved hated liked told heard took gave came went
    """
)

# Family relations, which a book ties to one character ("his wife, Fannie").
KIN_NOUNS: frozenset[str] = word_set(
    """
    wife husband mother father sister brother daughter son aunt uncle niece nephew cousin
    grandmother grandfather
    """
)

# Occupations, ranks and stations: nouns a book may call one character by ("the detective said",
# "his landlady, Mrs. Jones").
ROLE_NOUNS: frozenset[str] = word_set(
    """
    detective officer inspector constable sergeant policeman clerk editor proprietor proprietress
    physician surgeon doctor nurse courier waiter waitress porter landlord landlady innkeeper
    host hostess driver coachman cabman footman butler valet servant housekeeper cook maid
    governess tutor teacher schoolmaster schoolmistress professor student clergyman curate vicar
    rector priest parson minister bishop preacher judge lawyer attorney solicitor barrister
    magistrate coroner jailer warder guard sentry soldier sailor captain colonel major general
    lieutenant admiral commander corporal steward stewardess conductor guide interpreter
    secretary manager manageress banker merchant shopkeeper shopman salesman tradesman farmer
    gardener groom gamekeeper keeper shepherd miller baker butcher blacksmith carpenter barber
    reporter journalist photographer artist painter musician singer actor actress dancer
    chairman president governor mayor sheriff marshal boatman ferryman pilot engineer
    newcomer intruder prisoner witness messenger postman lodger tenant patient invalid beggar
    tramp thief burglar murderer convict usher attendant cashier bartender barman barmaid nun
    monk chaplain agent broker auctioneer apothecary chemist druggist dentist superintendent
    commissioner warden matron midwife chaperon escort
    """
)
