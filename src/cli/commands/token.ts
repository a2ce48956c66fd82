/**
 * `parley token new|hash`: API bearer tokens for parley.yaml. The config keeps `sha256:<hex>`; the plaintext
 * goes to the client only. `new` prints a fresh random token and its hash.
 */
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { hashToken } from '../../http/auth.js';
import { print } from '../options.js';

export function registerToken(program: Command): void {
  const token = new Command('token').description(
    'API bearer tokens: generate one, or hash one for parley.yaml',
  );
  token
    .command('new')
    .description('print a new random token and the sha256:<hex> to put in parley.yaml')
    .option('--json', 'machine-readable output')
    .action((flags: { json?: boolean }) => {
      const value = `pk_${randomBytes(24).toString('base64url')}`;
      const hash = hashToken(value);
      print(flags, { token: value, hash }, () => `token: ${value}\nhash:  ${hash}`);
    });
  token
    .command('hash <token>')
    .description('print sha256:<hex> of a token (what tenants.<id>.auth.tokens and admin.tokens accept)')
    .option('--json', 'machine-readable output')
    .action((value: string, flags: { json?: boolean }) => {
      const hash = hashToken(value);
      print(flags, { hash }, () => hash);
    });
  program.addCommand(token);
}
