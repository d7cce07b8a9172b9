/**
 * A server that cannot bind its port says so in one line and the process exits non-zero, so a
 * tester starting a second copy (or another program on the port) is not told "listening".
 */
export function listenErrorMessage(program: string, err: unknown, host: string, port: number): string {
  const code = err instanceof Error && 'code' in err ? String(err.code) : undefined;
  const where = `port ${port} on ${host}`;
  if (code === 'EADDRINUSE') return `${program}: ${where} is already in use; stop what listens there or choose another port`;
  if (code === 'EACCES') return `${program}: ${where} is not allowed for this user; choose a port above 1023`;
  if (code === 'EADDRNOTAVAIL') return `${program}: cannot bind ${where}: no such local address`;
  return `${program}: cannot listen on ${where}: ${err instanceof Error ? err.message : String(err)}`;
}
