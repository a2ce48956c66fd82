/** The pre-send gate contract (src/contracts/pre-send-gate.ts) and the connectors' default. */
import type { GateVerdict, PreSendGate } from '../contracts/pre-send-gate.js';

export type { GateVerdict, PreSendGate } from '../contracts/pre-send-gate.js';

const ALLOW: GateVerdict = Object.freeze({ allow: true });

/** The default gate until consent and kill switches are wired: lets everything through. */
export const allowAllGate: PreSendGate = {
  check: () => Promise.resolve(ALLOW),
};
