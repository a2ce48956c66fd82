/** `parley decode`: a raw msgpack (or JSON) body, e.g. from `nats kv get --raw`, printed as JSON. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { decodeBody } from '../../envelope/codec.js';

function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
      if (typeof v === 'bigint') return v.toString();
      return v;
    },
    2,
  );
}

export function registerDecode(program: Command): void {
  program.addCommand(
    new Command('decode')
      .description('decode a msgpack or JSON message body to JSON (reads FILE, or stdin when omitted or "-")')
      .argument('[file]', 'file holding the raw body', '-')
      .option('--content-type <type>', 'force application/msgpack or application/json instead of sniffing')
      .action((file: string, flags: { contentType?: string }) => {
        const data = readFileSync(file === '-' ? 0 : file);
        process.stdout.write(`${toJson(decodeBody(new Uint8Array(data), flags.contentType))}\n`);
      }),
  );
}
