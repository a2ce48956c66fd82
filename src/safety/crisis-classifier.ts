/**
 * Crisis / self-harm: a message suggesting the fan may hurt themselves. Always escalated (urgent), never
 * answered by automation. Phrase families: ideation, direct and indirect ("everyone would be better off
 * without me", "never wake up", a goodbye note); means and method (pills, rope, a bridge); self-harm in any
 * tense ("cut myself last night", "self harming again"); and, at low confidence, distress that is only
 * crisis-adjacent. Low confidence still escalates as a crisis (priority high): a false alarm costs a human a
 * minute, a miss can cost a life. A phrase negated just before ("I'd never hurt myself") or put in someone
 * else's mouth ("the song says ...") does not count.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

const entries = (detail: string, confidence: number, patterns: string[], unless?: string): LexiconEntry[] =>
  patterns.map((pattern) => ({ pattern, confidence, detail, ...(unless ? { unless } : {}) }));

/** Hyperbole: "mondays make me want to die lol". */
const HYPERBOLE = '(?=.*\\b(lol|lmao|lmfao|haha|hahaha|jk)\\b).*\\bma(kes?|de|king) me want to die\\b';
/** Accidents and chores: "cut myself shaving", "burned myself cooking". */
const ACCIDENT =
  '\\b(shaving|cooking|chopping|by accident|accidentally|on (a|the|some) (knife|glass|paper|stove|oven|pan)|paper cut|with the iron|at the gym|working out|lifting|skiing|fell|tripped)\\b';
const RECOVERED = '\\bused to (self harm|cut|hurt myself)\\b(?!.*\\bagain\\b)|\\bbeen clean (for|since)\\b';

export const CRISIS_LEXICON: readonly LexiconEntry[] = [
  ...entries('self-harm', 0.95, [
    'kill* [myself|my self|me self]',
    'end* my [own|] life',
    '[take|taking|took] my [own|] life',
    'suicid*',
    'better off dead',
    'no reason to [live|keep living|keep going|go on|be alive|stay alive|be here]',
    'not want to [live|be alive|exist|wake up|go on|keep going|keep living|be here anymore|be around anymore]',
    'not worth living',
    'end it all',
    'overdos*',
    '[want|wanted|wanting|wish] to be dead',
    'wish i [was|were] dead',
    'wish i [had|] never [been|was] born',
    'wish i [was|were|had been] never born',
    'i [should|deserve to] [just|] die',
    'should not be alive',
    'not deserve to live',
    'hang myself',
    'noose',
    'nothing [left|] to live for',
    'nothing left for me',
    'done with [life|living]',
    '[tired|sick|exhausted|weary] [of|from] [living|being alive|life|existing|being here]',
    '[hope|hoping|pray|praying] i [do not|never|will not] [make it|live] [to|through|past|until]',
    '[hope|hoping|pray|praying] i [do not|never|will not] [wake up|survive]',
    'hate being alive',
    'stop existing',
    '[give|giving|gave] up on ~ [life|living]',
    'kms',
    'attempted [suicide|again|last|before|twice|once]',
    'i attempted',
  ]),
  ...entries('self-harm', 0.95, ['[want|wanted|wanting] to die'], HYPERBOLE),
  ...entries(
    'self-harm',
    0.95,
    [
      '[cut|cutting|cuts|burn|burned|burnt|burning|hurt|hurting|harm|harming|harmed|punish*|starve|starving|stab|stabbing|knife|choke|choking] myself',
    ],
    ACCIDENT,
  ),
  ...entries(
    'self-harm',
    0.95,
    ['self harm*', 'selfharm*', 'sh again', 'relapse* [on|into] [self harm|cutting]'],
    RECOVERED,
  ),
  ...entries('self-harm', 0.9, [
    '[been|started|am|keep] cutting [again|]',
    'cut again',
    'cutting again',
    '[covered in|full of] [fresh|new|deep|] cuts',
    '[fresh|new|deep] cuts on my',
    'cuts on my [arms|arm|wrists|wrist|legs|thighs]',
    'so i cut',
    'on purpose again',
  ]),
  // Indirect ideation: the wish not to be here, said without the words.
  ...entries('ideation', 0.9, [
    '[better|happier|easier] [off|] [for everyone|for them|] without me',
    '[better|happier|easier] [off|] [for everyone|for them|] if i [just|] [died|was gone|were gone|was dead|were dead|was not here|were not here|was not around|were not around|disappeared]',
    '[nobody|no one|noone] would [even|] [miss me|notice|care] [if i|]',
    '[no|not see the] point [in|of] [living|life|going on|being alive|anything anymore|it anymore]',
    'what is the point of [living|life|being alive|going on]',
    'not [going to|] be [around|here] [much longer|for much longer|for long|next week|tomorrow|anymore]',
    '[never|not] wake up',
    '[sleep|asleep] forever',
    '[suicide|farewell] [note|letter]',
    'this is goodbye',
    '[consider this|this is|here is] my [final|last|] goodbye',
    'my [final|last] goodbye',
    '[saying|say] goodbye to everyone',
    'last message to [anyone|everyone|you all]',
    'tell my [mom|mum|mother|dad|father|family|parents|sister|brother|kids] i love [her|him|them]',
    'not hear from me [again|after tonight|anymore]',
    'be dead by [morning|tomorrow|tonight|the weekend]',
    'if i die tonight',
    '[want|wanted] [it|this|everything] [all|] to end',
    'want the pain to stop forever',
    'disappear [forever|and never come back]',
    '[end|ending] it [tonight|today|now|for good|this weekend|soon]',
    'the night i end it',
    '[thinking|thought] [of|about] ending it',
    '[i will|i am going to|going to|should|i want to] [just|] end it',
    'i am [such|] a burden',
    'burden to [everyone|my family|them|you all]',
    'i am a waste of space',
    'made peace with [it|dying|death|my decision]',
    '[planning|planned|plan] [how|when] to do it',
  ]),
  ...entries(
    'ideation',
    0.9,
    [
      '[wrote|written|writing|write|left|leaving|finished] [a|my|the|] goodbye [letter|letters|note|notes]',
      'my goodbye [letter|note]',
    ],
    '\\b(song|album|track|called|titled|named|poem)\\b|\\bgoodbye (letter|note) to (my|the) (old )?(car|job|house|phone|ex|school|apartment|city|town|team|hair)\\b',
  ),
  // Means and method.
  ...entries(
    'method',
    0.9,
    [
      'swallowed [all|the whole bottle of|a bottle of|a bunch of|] [my|the|all my|all the|] [pills|meds|medication|tablets|painkillers|sleeping pills]',
      '[a|the] [whole|entire|full] [bottle|pack|packet|box|strip] of [pills|meds|tablets|painkillers|sleeping pills|tylenol|advil|aspirin|ibuprofen|paracetamol|acetaminophen|xanax|ambien|benadryl|antidepressants|insulin|my pills|my meds]',
      '[saving|saved|stockpiling|stockpiled|hoarding|hoarded|collecting|stashing] [up|] [my|the|all my|all the|] [sleeping|] [pills|meds|tablets|painkillers]',
      'how many pills',
      '[enough|all the|all my] pills to',
      'stashed ~ pills',
      'painless way to [die|go|do it]',
      '[ways|way|how] to [kill myself|die|end it]',
      '[jump|jumping|jumped] off [the|a|this|] [bridge|roof|building|ledge|cliff|balcony|overpass|tower]',
      '[on|standing on] the [bridge|ledge|roof|edge] right now',
      'on the ledge',
      'in front of a [train|bus|truck|car]',
      '[drive|driving|drove|crash|crashing] [my car|] [into a wall|into a tree|into traffic|off the road|off a bridge|off a cliff]',
      'knife in my hand',
      'blade is right here',
      'the rope is ready',
      '[got|have|bought|tied] [a|the] [rope|noose] ~ [tree|beam|ceiling|rafter|hook|closet|garage]',
      'rope is [ready|tied]',
      'pills ~ [bye|goodbye]',
      '[giving|gave|give] away [all|] my [stuff|things|belongings]',
      'will not need to take care of',
    ],
    '\\b(climb\\w*|camping|boat|sailing|swing|tow\\w*|jump rope|diving)\\b|\\bgo (jump|hang|drown)\\b',
  ),
  ...entries(
    'method',
    0.9,
    ['bought a rope'],
    '\\b(climb\\w*|camping|boat|sailing|swing|tow\\w*|dog|gym)\\b',
  ),
  {
    pattern:
      '\\b(swallowed|took|taking|downed|take)( like)? (\\d+|all|a handful|handfuls|a bunch)( of)?( my| the| these)?( sleeping)? (pills|meds|tablets|painkillers)\\b',
    regex: true,
    confidence: 0.9,
    detail: 'method',
  },
  ...entries('self-harm', 0.9, [
    '[drown|drowning|hang|hanging|shoot|shooting|poison|poisoning|starve|suffocate|overdose] myself',
    '[slit|slitting|slash|slashing|cut|cutting] [my|] [wrists|wrist|throat]',
    '[carved|carve|carving] [into|] my [arm|arms|skin|leg|legs|wrist|thigh]',
    'bleed out',
    'end myself',
    'ending things',
    '[end|ending] things',
    '[thinking|think|thought] about [dying|death|suicide|not being here|not waking up]',
    'can not stop thinking about [dying|death|killing myself|suicide|ending it]',
    'ready to die',
    'going to die tonight',
    'no way out',
    '[not|never] make it through the [night|weekend|week]',
    'last time [you will|you] hear from me',
    'hear from me again',
    'finally [going to|gonna] do it',
    'going to do it tonight',
    '[gun|pistol] is loaded',
    'loaded [gun|pistol]',
    '[pills|meds|tablets] [counted|lined up|laid out|ready]',
    '[planning|going|ready|about] to jump',
    'jump tonight',
    'disappear for good',
    'not deserve to [be alive|exist|be here]',
    'deserve to be dead',
    'no point [anymore|any more]',
    '[want|wish] [everything|it all|it|the pain|this|all of this] to stop [forever|permanently|for good]',
  ]),
  {
    pattern: '\\b(swallowed|took|taking|downed)\\b( \\S+){0,4} (pills|meds|tablets|painkillers)\\b',
    regex: true,
    confidence: 0.85,
    detail: 'method',
    unless:
      '\\b(vitamins?|morning|daily|allergy|prescri\\w*|headache|like a good|with (food|water|breakfast))\\b',
  },
  // Death words said about oneself, outside the figures of speech: uncertain, escalated as a crisis.
  {
    pattern:
      '\\b(i|me|my|myself|im)\\b.*\\b(die|dying|died|dead|death|suicide)\\b|\\b(die|dying|dead|death)\\b.*\\b(i|me|my|myself)\\b',
    regex: true,
    confidence: 0.5,
    detail: 'distress',
    unless:
      '\\b(dying to|die for|to die for|died laughing|dying laughing|die laughing|dying of laughter|dead tired|dead serious|death of me|almost died|nearly died|could die|(phone|charger|battery|laptop|car|plant|plants|fish) (died|is dead|just died)|dead (battery|phone)|(am|is) dead (lol|lmao|skull|crying)|dead skull|dead lol|died when|die when|dead when|dead after|screaming|killed it|kill it|grandm\\w*|grandp\\w*|grandad|passed away|funeral|(movie|song|book|show|series|character|episode|game|film)\\b.*\\b(die|dies|died|dead|death)|(die|dies|died|dead|death)\\b.*\\b(movie|song|book|show|series|character|episode|game|film))\\b|\\bi am dead$|\\byou\\b.*\\b(die|dies|dead|death)\\b|\\b(not|never)( \\S+){0,3} (die|dying|dead)\\b|\\b(lol|lmao|lmfao|haha|hahaha)\\b',
  },
  // Other languages (the most common phrasings; add more through safety.classifiers.crisis.patterns).
  ...entries('self-harm', 0.95, [
    '[quiero|quisiera] [morir|morirme|matarme]',
    'no quiero [vivir|seguir viviendo]',
    'je veux [mourir|me tuer|en finir]',
    'me suicider',
    'ich will [sterben|nicht mehr leben]',
    'nicht mehr leben',
    'mich umbringen',
    'quero [morrer|me matar]',
    'nao quero [mais|] viver',
    '[quitarme|quitar me] la vida',
    'acabar con mi vida',
    'suicidarme',
    '[en|den] finir [avec la vie|avec ma vie|avec tout]',
    'envie de mourir',
    'mettre fin a [mes jours|ma vie]',
    'tirar [a minha|minha] [propria|] vida',
    'acabar com [a minha|minha] vida',
    'me suicidar',
    'mir das leben nehmen',
    'selbstmord',
  ]),
  // Crisis-adjacent distress: uncertain, so low confidence, and still escalated.
  ...entries(
    'distress',
    0.55,
    [
      'can not go on [like this|anymore|any longer|much longer]',
      'can not [take|do] [it|this] anymore',
      'how much longer i can [keep going|go on|do this|take it]',
      'want to disappear',
      '[i feel|feeling|i am so|i am|so|everything is|it is all] hopeless',
      '[i feel|feeling|i am] [so|] [worthless|empty inside|numb]',
      'hate myself',
      'i have a plan',
      'do it this weekend',
      'my last message',
      'writing my [will|note]',
      'nice knowing you',
      'goodbye [everyone|all|forever|world]',
      'want out',
    ],
    '\\bhopeless (at|with)\\b|\\bhate myself for\\b|\\bwant out of (this|the|my) (list|group|chat|contract|deal)\\b',
  ),
];

/** "not", "never": "I'd never hurt myself". Reported speech: "the song says I want to die". */
const CUES = {
  reported: [
    'said',
    'says',
    'saying',
    'lyrics',
    'lyric',
    'song',
    'sings',
    'sang',
    'movie',
    'film',
    'book',
    'she',
    'he',
    'they',
    'friend',
  ],
};

export function crisisClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier('crisis-lexicon', 'crisis', CRISIS_LEXICON, options, CUES);
}
