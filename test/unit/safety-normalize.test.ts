import t from 'tap';
import { normalizeText, squeeze } from '../../src/safety/normalize.js';

t.test('safety normalize - unicode, case, accents, look-alikes and invisible characters', async (t) => {
  t.equal(normalizeText('ＳＴＯＰ'), 'stop', 'fullwidth (NFKC)');
  t.equal(normalizeText('𝐤𝐢𝐥𝐥 myself'), 'kill myself', 'mathematical bold letters');
  t.equal(normalizeText('Arrêtez de m’écrire'), 'arretez de mecrire', 'accents and a typographic apostrophe');
  t.equal(normalizeText('ѕtор'), 'stop', 'Cyrillic look-alikes');
  t.equal(normalizeText('st\u200bop'), 'stop', 'a zero-width space');
  t.equal(normalizeText('Hör auf'), 'hor auf');
});

t.test('safety normalize - leetspeak inside words only', async (t) => {
  t.equal(normalizeText('k1ll myself'), 'kill myself');
  t.equal(normalizeText('$uicidal'), 'suicidal');
  t.equal(normalizeText('st0p'), 'stop');
  t.equal(normalizeText('5top'), 'stop');
  t.equal(normalizeText('k!ll you'), 'kill you');
  t.equal(normalizeText('STOP!!!'), 'stop', 'punctuation after a word is punctuation');
  t.equal(normalizeText('$29.99 for 2 videos'), '29 99 for 2 videos', 'numbers stay numbers');
});

t.test('safety normalize - spelled out, run together, repeated letters', async (t) => {
  t.equal(normalizeText('u n s u b s c r i b e'), 'unsubscribe');
  t.equal(normalizeText('S.T.O.P'), 'stop');
  t.equal(normalizeText('i w a n t t o d i e'), 'i want to die');
  t.equal(normalizeText('iwanttodie'), 'i want to die');
  t.equal(normalizeText('imgoingtokillmyself'), 'i am going to kill myself');
  t.equal(normalizeText('u r a legend'), 'you are a legend', 'short words are not glued together');
  t.equal(normalizeText('subscription'), 'subscription', 'an ordinary long word stays whole');
  t.equal(normalizeText('stoooooop'), 'stoop', 'repeats cut to two');
  t.equal(squeeze('stoop pleease'), 'stop please', 'and squeezed to one for keywords');
});

t.test('safety normalize - contractions, chat abbreviations and emoji', async (t) => {
  t.equal(normalizeText("please don't stop"), 'please do not stop');
  t.equal(normalizeText('i cant go on'), 'i can not go on');
  t.equal(normalizeText("I'll find you"), 'i will find you');
  t.equal(normalizeText('ill find you'), 'i will find you', '"ill" before a verb of intent');
  t.equal(normalizeText("i'm ill today"), 'i am ill today', 'and the word ill otherwise');
  t.equal(normalizeText('ur a loser'), 'you are a loser');
  t.equal(normalizeText('ur address'), 'your address');
  t.equal(normalizeText('plz stop msging me'), 'please stop messaging me');
  t.equal(normalizeText('🔪 see you soon'), 'knife see you soon');
  t.equal(normalizeText('💊💊 bye'), 'pills pills bye');
  t.equal(normalizeText('🛑'), 'stop');
  t.equal(normalizeText('love it 🎉🎉'), 'love it', 'other emoji are dropped');
});
