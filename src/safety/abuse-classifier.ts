/**
 * Abuse / harassment aimed at the creator or staff: threats (with or without profanity: "I'll find you",
 * "I'll ruin your life"), doxxing ("I'll post your address"), sextortion ("send more or I post the ones I
 * have"), telling them to die, targeted insults, and (at low confidence) hostility. Escalated (high
 * priority); automation must not keep cheerfully messaging someone who is threatening. Profanity alone is
 * not abuse: fans swear in delight. Banter ("you killed it", "I'll shoot you an email") is left alone.
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

const entries = (detail: string, confidence: number, patterns: string[], unless?: string): LexiconEntry[] =>
  patterns.map((pattern) => ({ pattern, confidence, detail, ...(unless ? { unless } : {}) }));

const CLOSE =
  '[husband|wife|boss|family|mom|mum|dad|parents|boyfriend|girlfriend|employer|kids|partner|friends|followers|manager]';
/** Friendly meetings and figures of speech a threat phrase also fits. */
const BANTER =
  '\\b(in the crowd|at the (meet|show|concert|signing|gig|event|meetup|con|festival)|meet and greet|on (instagram|insta|ig|tiktok|twitter|facebook|fb|snapchat|snap|youtube|discord|twitch)|shoot you (an?|the) (email|message|text|dm|msg|line|note|link)|regret not (trying|buying|coming|watching|getting|seeing|joining)|pay for (dinner|lunch|drinks|coffee|the next|my|a round)|watch your back (while|when|on|during)|watch your back\\b.*\\b(game|match|team|tournament|round|race|league|opponents?|raid|boss fight))\\b';

/** Who a blackmailer threatens to tell, or what to show. */
const EXPOSED =
  '(your (husband|wife|boss|family|mom|mum|dad|parents|boyfriend|girlfriend|employer|kids|partner|friends|followers|manager|fans)|everyone|everybody|the internet|screenshots?|nudes|pics|photos|pictures|videos|dms|chats?)';

export const ABUSE_LEXICON: readonly LexiconEntry[] = [
  ...entries(
    'threat',
    0.95,
    [
      'kill you',
      '[will|going to|want to|would|gonna] [kill|hurt|murder|stab|shoot|beat|choke|strangle|punch|slap|burn|destroy|ruin|end] [you|your]',
      '[will|going to|want to|gonna] [find|track|hunt|expose|follow] you',
      'know* where [you|your] [live|kids|family|parents|work|go|sleep]',
      'know [what|which] [car|bus|train|route] you',
      '[better|should|had better] watch yourself',
      'put you [in the ground|six feet under|in a grave|in a box|in a body bag]',
      '[show up|showing up|turn up|turning up|appear] [at|on] your [house|home|work|job|apartment|door|doorstep|office|school|place]',
      '[i will|going to|gonna] get you [for this|for that|for what you did|back for this]',
      'swear i will [get|find|hurt|end|ruin|destroy|make] you',
      'i know where you live',
      'know your [kids|kid|childrens|children|family|address|real name|school|workplace|location|parents|ip|car|schedule]',
      'know which [gym|school|building|street|house|office|hotel|room] you',
      'watch your back',
      'you will [regret|be sorry|pay|suffer|see what happens]',
      'you are going to [regret|be sorry|pay|suffer]',
      '[make|making] you [pay|suffer|regret]',
      'i am coming for you',
      'coming [to|for] your [house|home|apartment|door|family|kids|work|job]',
      '[waiting|wait|be] outside your [house|building|home|place|work|door|window|apartment]',
      '[follow|followed|following] you home',
      'saw you at the [grocery store|gym|store|supermarket|mall|park|station]',
      'can not hide',
      'track you down',
      '[come|coming] find you',
      'you are dead [meat|]',
      'you will be dead',
      'see you soon [devil|knife|gun]',
      '[devil|knife|gun] ~ see you soon',
      'put you in [the|a] hospital',
      'burn your [house|home|place|car] [down|]',
      'beat [your ass|you up|the shit out of you]',
      'someone should [shoot|kill|hurt|teach|rape|stab|beat|hit] you',
      'teach you a lesson',
      'hope [you|someone|somebody] ~ [die|dies|hurts you|get hurt|gets hurt|get cancer|gets cancer|get raped|gets raped|suffer|suffers|kills you]',
      'you deserve to [die|be raped|get raped|suffer|get hurt|be hurt]',
      'make your life [hell|a living hell|miserable]',
      'ruin [your|you]',
      'get you [fired|banned|cancelled|canceled|arrested|deported]',
      'report you to your [employer|boss|work|job|school]',
      'never work again',
      'spread* [rumors|rumours|lies] about you',
      'tell everyone [your address|your secret|your secrets|what you are|what you did|where you live]',
      'make sure everyone knows what you [are|did]',
      `your ${CLOSE} will [find out|know|see]`,
      `[send|sending|show|showing|forward|forwarding|sent] ~ to your ${CLOSE}`,
      'rape*',
      'you will be sorry',
      'or else',
      'sleep with one eye open',
      'never feel safe',
      'pray i [do not|never] find you',
      '[slit|cut|break|snap|smash|stab|shoot|choke|crush|rip out] your [throat|neck|face|legs|leg|arms|skull|head|fingers|teeth|heart]',
      '[wait|waiting] for you [after|outside|at|near]',
      'you will see [what happens|]',
      'deserve everything bad',
      '[make you|making you] famous for [all|] the wrong',
      'go [jump off|hang|drown|shoot|kill] [a|the|] [bridge|yourself|cliff|building|roof|]',
      'die in a fire',
      '[come|coming|go|going|show up|showing up] to your [house|home|work|job|apartment|door|office|school]',
      'find your [family|kids|house|parents|home|mom|sister|brother]',
      'what is coming to you',
      'hope you ~ [die|hit by a|run over|rot|burn|crash|suffer|get what]',
      'drink bleach',
      'you should [be dead|die|just die|kill yourself]',
      'break your [legs|leg|arms|arm|neck|face|jaw|bones|teeth]',
      'not test me',
      'unless you pay',
      '[send|sending|post|posting|share|sharing] your [pictures|pics|photos|nudes|videos] to',
    ],
    BANTER,
  ),
  ...entries('doxxing', 0.95, [
    'dox*',
    '[post|posting|leak|leaking|share|sharing|publish] your [home|real|] [address|number|phone number|location|info|details|name|ip]',
    'your [home|] address [everywhere|online|on twitter|on reddit]',
    'found your [address|house|home|location|family|real name|parents|number]',
    'i have your [ip|address|home address|number|phone number|real name|location]',
    'hack your [account|accounts|phone|email|socials|page]',
  ]),
  ...entries('sextortion', 0.95, [
    'or i will [post|share|send|leak|tell|show|expose|release|upload]',
    'or [everyone|your family|your friends] [sees|will see|gets|finds out]',
    'if you do not [pay|send] ~ i will',
    '[leak|post|release|upload] your [nudes|pics|photos|videos|private*|content]',
    'share your [nudes|private pics|photos with everyone|pics with everyone|videos with everyone]',
    'i have your [pics|photos|nudes|videos|pictures]',
    'do what i say',
    'send [nudes|me nudes] or',
    '[pay me|send me|give me] ~ or',
    'or your [nudes|pics|photos|videos|pictures|private pics|content] [go|get|will|are going|end up]',
    'if you block me',
    'blocking me [will not|does not|wont] [help|stop me|save you]',
    '[make|made] another account',
  ]),
  // Blackmail: a threat to tell, show or send something to others, with a condition ("... unless you reply").
  {
    pattern: `\\b(tell|show|send|post|leak|share|expose|forward|release|upload)\\b.*\\b${EXPOSED}\\b.*\\b(unless|or else)\\b|\\b(unless|if you (do not|will not))\\b.*\\b(i will|going to|gonna)\\b.*\\b(tell|show|send|post|leak|share|expose|forward|release|upload)\\b.*\\b${EXPOSED}\\b`,
    regex: true,
    confidence: 0.9,
    detail: 'sextortion',
  },

  ...entries('self-harm-incitement', 0.95, [
    'kill yourself',
    'kys',
    'go die',
    'end yourself',
    'nobody would miss you',
    'do everyone a favor',
  ]),
  ...entries('insult', 0.85, [
    'fuck [you|off]',
    'fuck you',
    'shut the fuck up',
    'shut up [bitch|idiot|loser|whore|slut]',
    'shut up you [bitch|idiot|loser|whore|slut|stupid|dumb|ugly|fat|pathetic|freak|moron]',
    '[you|ur] [worthless|stupid|dumb|ugly|fat|pathetic|disgusting|filthy|useless] ~ [trash|garbage|idiot|moron|freak|loser|bitch|whore|slut|pig|cow|piece|cunt|hoe|creep]',
    'you [freak|creep|psycho|moron|loser|idiot|trash|scum]',
    'bitch',
    'whore',
    'slut',
    'cunt',
    'hoe',
    'piece of shit',
    'retard*',
    'eat shit',
    'go to hell',
    '[stupid|ugly|fat|dumb|disgusting|pathetic] [cow|pig|loser|bitch|whore|slut|idiot|freak|hoe|moron]',
    'you are [such|so|a|an|the|just|] ~ [trash|garbage|pathetic|disgusting|ugly|stupid|worthless|fraud|liar|loser|idiot|moron|joke|waste of space|pig|cow|freak|creep|scum|nothing|whore|slut]',
    'nobody loves you',
    'waste of [oxygen|air|space|skin]',
    'you should be ashamed',
  ]),
  ...entries('hostile', 0.8, ['i [really|fucking|so|just|] hate you']),
  ...entries(
    'hostile',
    0.55,
    ['hate you', 'idiot', 'loser', 'you are dead to me'],
    '\\b(i am|i was|i feel like|i felt like|what an?) (such |so |a |an |an absolute |a total |a complete )*(idiot|loser)\\b',
  ),
  { pattern: 'shut up', confidence: 0.55, detail: 'hostile', whole: true },
];

export function abuseClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier('abuse-lexicon', 'abuse', ABUSE_LEXICON, options);
}
