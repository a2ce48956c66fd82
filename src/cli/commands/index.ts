/** The explicit list of CLI commands (no directory scanning). */
import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerConsent } from './consent.js';
import { registerConversation } from './conversation.js';
import { registerDecode } from './decode.js';
import { registerDlq } from './dlq.js';
import { registerEscalations } from './escalations.js';
import { registerPartitions } from './partitions.js';
import { registerPause } from './pause.js';
import { registerReplay } from './replay.js';
import { registerRules } from './rules.js';
import { registerSimPlatform } from './sim-platform.js';
import { registerSource } from './source.js';
import { registerStart } from './start.js';
import { registerStreams } from './streams.js';
import { registerToken } from './token.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerBench,
  registerStart,
  registerPartitions,
  registerStreams,
  registerDecode,
  registerRules,
  registerReplay,
  registerDlq,
  registerSimPlatform,
  registerToken,
  registerConversation,
  registerEscalations,
  registerPause,
  registerConsent,
  registerSource,
];
