/** The explicit list of CLI commands (no directory scanning). */
import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerDecode } from './decode.js';
import { registerDlq } from './dlq.js';
import { registerSimPlatform } from './sim-platform.js';
import { registerStart } from './start.js';
import { registerStreams } from './streams.js';
import { registerToken } from './token.js';

export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerBench,
  registerStart,
  registerStreams,
  registerDecode,
  registerDlq,
  registerSimPlatform,
  registerToken,
];
