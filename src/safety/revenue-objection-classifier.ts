/**
 * Revenue objection: refunds, chargebacks and payment disputes (also without those words: "I didn't
 * authorize this", "reverse this charge", "charged after I cancelled"), cancellations ("end my membership"),
 * undelivered purchases and price complaints. Low risk but not for blind automation: escalated, unless the
 * tenant configures a bridge message for it. A question asked before buying ("what's your refund policy?",
 * "do you offer refunds if I don't like it?") is not an objection; nor is a negated one ("I don't want to
 * cancel").
 */
import { type LexiconEntry, type LexiconOptions, lexiconClassifier, type TextClassifier } from './lexicon.js';

const entries = (detail: string, confidence: number, patterns: string[], unless?: string): LexiconEntry[] =>
  patterns.map((pattern) => ({ pattern, confidence, detail, ...(unless ? { unless } : {}) }));

/** A refund asked about, not asked for. */
const BEFORE_BUYING =
  '\\brefunds? if\\b|\\brefund (policy|policies|terms)\\b|\\b(do|does|will|would) (you|they) (offer|give|do|provide)( any| a)? refunds?\\b|\\bis there (a|any) refund\\b|\\bbefore (i|we) (buy|purchase|subscribe|sign up|pay|order)\\b|\\bif i (do not|did not) like\\b|\\bmoney back guarantee\\b';

/** A refund asked for only hypothetically: "can I get a refund if I don't like it?". */
const HYPOTHETICAL =
  '\\brefunds? if\\b|\\bbefore (i|we) (buy|purchase|subscribe|sign up|pay|order)\\b|\\bif i (do not|did not) like\\b|\\bmoney back guarantee\\b';

export const REVENUE_OBJECTION_LEXICON: readonly LexiconEntry[] = [
  ...entries('chargeback', 0.95, [
    'chargeback*',
    'charge back',
    'dispute [the|this|that|my|a|] [charge|payment|transaction|purchase]',
    '[disputing|disputed] [the|this|that|my|a|] [charge|payment|transaction|purchase]',
    'dispute [it|this|that] with my [bank|card|card company|credit card company]',
    '[report|reporting] [you|this|it] to my [bank|card company|credit card company]',
    'credit card company',
  ]),
  ...entries(
    'chargeback',
    0.85,
    ['[call|called|calling|contact|contacting|contacted|phone|phoning] my bank', 'my bank will'],
    '\\b(new card|lost (my )?card|brb|card (arrived|expired)|app)\\b',
  ),
  ...entries(
    'refund',
    0.95,
    [
      '[want|need|demand|requesting|request|like|give me|get me|issue|process|where is|get] [a|my|the|] [full|partial|] refund',
      'refund me',
      'refund [my|this|the|it|that]',
      '[want|give me|get|return|send me] my money [back|]',
      'money back',
      'reimburse*',
      'rfnd*',
      'reembolso',
      'devuelv* mi dinero',
      'rembours*',
      'geld zuruck',
      'dinheiro de volta',
    ],
    HYPOTHETICAL,
  ),
  ...entries('refund', 0.9, ['refund*'], BEFORE_BUYING),
  ...entries('dispute', 0.9, [
    '[not|never] authori* [this|it|that|the|any|this charge|this payment]',
    'unauthori* [charge|payment|transaction|purchase]',
    'charge on my [card|account|statement]',
    'who charged my card',
    'did not [buy|order|purchase|make] [anything|this|that|it]',
    'reverse [this|the|that|my|it] [charge|payment|transaction|]',
    'need it reversed',
    'undo [this|the|that|my] [charge|payment|transaction]',
    'charged [me|] after i [cancel*|unsubscribed]',
    'cancel* ~ still [charged|took|billed|charging|taking|charge]',
    'charged [me|] again',
    '[charged|billed] [me|] twice',
    'double [charged|billed]',
    '[charged|billed] [me|] [the wrong amount|too much|more than]',
    '[charged|billed] [me|] for something i',
    'overcharg*',
    'what is this charge',
    'my card was stolen',
    'without [my|] permission',
    '[paid|payment|tip|tipped|charged|bought] ~ [by mistake|twice]',
    'went through twice',
    '[charge|charges|payment|payments|transaction|purchase] i [did not|never] [make|authorize|approve|recognize|order|agree to]',
    'not [approve|authorize|agree to] [this|the|that|any|these] ~ [payment|charge|charges|payments|purchase]',
    '[charged|billed] for ~ [i|that i|which i|after i] [cancel*|unsubscribed|never ordered]',
    '[charged|billed] every [month|week] ~ not know why',
    '[costs|cost|costing|priced] [way|much|so|far|too] more than',
    'report you to [paypal|stripe|visa|mastercard|amex|the bbb|my bank|the platform|apple|google]',
    'money [returned|refunded]',
    '[charged|billed|charging|took money] ~ without [asking|permission|my consent|telling me]',
    '[billed|charged] even though',
    'even though i [cancel*|unsubscribed]',
    'dispute [this|it|that] [on|with] my',
    'stop taking [money|my money]',
    'took my money',
    '[charges|charge] i [do not|did not] recognize',
    'not recognize [this|these|the|that] [charge|charges|payment|payments]',
    'report this [charge|payment] to',
    'why [was|am|did] i [charged|billed|get charged|get billed]',
    'not agree to [pay|this charge|be charged|this payment]',
    '[charged|billed] [me|] [three|four|five|multiple|several|many] times',
    'accidentally paid',
    '[get|send] [one|it] back',
    'return one',
  ]),
  ...entries('cancel', 0.9, [
    'cancel* [my|the|this|your|our|] [subscription|membership|account|sub|plan|renewal|auto renew|autorenew|auto renewal|order]',
    'cancel* [my|the|this|your|our] ~ [subscription|membership|account|sub|plan|renewal|tier]',
    '[stop|end|pause] my [subscription|membership|plan|sub|payments|renewal|billing] ~',
    'how [do|can] i cancel',
    '[end|ending|close|closing|terminate] my [subscription|membership|sub|plan|account]',
    'stop [charging|billing] me',
    'not [charge|bill] me',
    'not renew*',
    'turn off [auto renew|autorenew|auto renewal|renewal|the renewal]',
    'not want [it|this|my subscription|my sub] to [auto renew|renew]',
    'cancel before',
    'downgrade',
    'leaving your page',
  ]),
  ...entries('not-delivered', 0.9, [
    'paid ~ [and|but] [got nothing|never got it|never received it]',
    'got nothing',
    '[never|not] [received|get|got] ~ [paid for|i paid|i bought|i ordered]',
    'paid for ~ never [received|came|arrived|got|delivered]',
    'never [came|arrived|delivered|showed up]',
    'not what i paid for',
    'false advertising',
    'misleading',
    'still waiting [on|for] ~ [paid|bought|ordered]',
    'where is my [order|video|custom|content|purchase]',
    'scam*',
    '[never|not] [got|received|get] [the|my] [video|custom|order|content|pics|package|item|bundle|purchase]',
    'waste of money',
  ]),
  { pattern: '\\bnot worth \\d+', regex: true, confidence: 0.85, detail: 'price' },
  { pattern: '\\b(charged|billed) me \\d+', regex: true, confidence: 0.85, detail: 'dispute' },
  {
    pattern: '\\bpaid\\b.*\\b(\\d+|few|two|three|four) (days|weeks|months)\\b',
    regex: true,
    confidence: 0.8,
    detail: 'not-delivered',
  },
  ...entries('price', 0.85, [
    '[too|so|very|really|way too] expensive',
    'expensive for what',
    'overpriced',
    '[too|way too|so] [pricey|pricy]',
    'rip off',
    'ripoff',
    'not worth [the money|the price|it|that much|paying|a cent|a penny]',
    'not paying [that|this|so] [much|]',
    'can not afford',
    'price* [went|goes|going|gone|go|keeps going] up',
    '[raised|raise|raising|increased|hiked] [the|your|my|] price*',
    'price [increase|hike]',
    'price* [is|are|stays|stay] [so|too|this|way too] high',
    'old price',
    'or i am leaving',
    'cheaper [on|at|elsewhere|somewhere]',
    '[charge|charges|charging] half',
    'half as much',
    '[insane|crazy|ridiculous|absurd] [price|prices|pricing]',
    'this is too much',
    'not worth what i [pay|paid]',
    'price* [is|are] a joke',
  ]),
  {
    pattern:
      '\\b\\d+ (dollars? |bucks? |euros? )?(for|a|per) [a-z ]{0,20}\\b(insane|crazy|ridiculous|absurd|robbery|rip off|ripoff|joke|too much)\\b',
    regex: true,
    confidence: 0.85,
    detail: 'price',
  },
];

export function revenueObjectionClassifier(options?: LexiconOptions): TextClassifier {
  return lexiconClassifier(
    'revenue-objection-lexicon',
    'revenue-objection',
    REVENUE_OBJECTION_LEXICON,
    options,
  );
}
