/**
 * A tiny authoritative DNS server for the resolver tests, run as its own process (inside a
 * network namespace, so it can own port 53 there): `dns-server.ts <address> <zone-json> <log-file>`.
 * It answers A for the absolute names in the zone (`{ "name.ns.svc.cluster.local": "10.96.0.1" }`),
 * NOERROR without records for their other types (an IPv4-only cluster, as CoreDNS answers AAAA)
 * and NXDOMAIN for every other name. Each query is appended to the log file as a JSON line
 * before its answer is sent, so once a client has its answers the log holds all its queries.
 * Prints `ready` when listening. UDP only: a TCP fallback would fail the lookup visibly.
 */
import { createSocket } from 'node:dgram';
import { appendFileSync } from 'node:fs';

/** One logged query. */
export interface LoggedQuery {
  readonly name: string;
  readonly type: string;
  readonly rcode: 'NOERROR' | 'NXDOMAIN';
  readonly answers: number;
}

const TYPES: Record<number, string> = { 1: 'A', 5: 'CNAME', 28: 'AAAA', 33: 'SRV' };
const NXDOMAIN = 3;

/** The question name, its type and the offset just past the question. */
function readQuestion(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let offset = 12;
  for (let length = query[offset]; length !== 0; length = query[offset]) {
    // Queries never compress their question; anything else is not a query this server takes.
    if (length > 63 || offset + 1 + length > query.length) throw new Error('malformed question name');
    labels.push(query.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  if (offset + 5 > query.length) throw new Error('truncated question');
  return { name: labels.join('.'), type: query.readUInt16BE(offset + 1), end: offset + 5 };
}

function answer(query: Buffer, zone: Record<string, string>): { response: Buffer; logged: LoggedQuery } {
  const { name, type, end } = readQuestion(query);
  const address = zone[name.toLowerCase()];
  const rcode = address === undefined ? NXDOMAIN : 0;
  const records = address !== undefined && type === 1 ? [address] : [];
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  // QR, the query's opcode and RD, AA, RA, and the rcode.
  header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
    rr.writeUInt16BE(1, 2); // A
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(30, 6); // TTL
    rr.writeUInt16BE(4, 10);
    ip.split('.').forEach((octet, i) => rr.writeUInt8(Number(octet), 12 + i));
    return rr;
  });
  const logged: LoggedQuery = { name, type: TYPES[type] ?? String(type), rcode: rcode === 0 ? 'NOERROR' : 'NXDOMAIN', answers: records.length };
  return { response: Buffer.concat([header, query.subarray(12, end), ...rrs]), logged };
}

function main([address, zoneJson, logFile]: string[]): void {
  if (!address || !zoneJson || !logFile) throw new Error('usage: dns-server.ts <address> <zone-json> <log-file>');
  const zone = Object.fromEntries(Object.entries(JSON.parse(zoneJson) as Record<string, string>).map(([n, ip]) => [n.toLowerCase(), ip]));
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    try {
      const { response, logged } = answer(query, zone);
      appendFileSync(logFile, `${JSON.stringify(logged)}\n`);
      socket.send(response, peer.port, peer.address);
    } catch (error) {
      appendFileSync(logFile, `${JSON.stringify({ error: String(error) })}\n`);
    }
  });
  socket.bind(53, address, () => process.stdout.write('ready\n'));
}

main(process.argv.slice(2));
