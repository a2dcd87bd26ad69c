/**
 * Credentials are taken out of a repository URL before it leaves the machine.
 *
 * The reference client sends the remote URL exactly as configured. A remote such as
 * `https://<token>@github.com/org/repo.git` would then hand a git token to a third party, so
 * livestep removes credentials and changes nothing else: Studio identifies a repository by its
 * host and path, which stay as configured. For http(s) the whole user part goes (there it is
 * usually a token); for other schemes (ssh) only a password goes, since `ssh://git@host/...`
 * names the ssh user, not a secret. The scp form `git@github.com:org/repo.git` has no password
 * and is kept as it is.
 */
export function removeCredentials(url: string): string {
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^@/?#]*)@/i.exec(url);
  if (match === null) return url;
  const scheme = match[1]!;
  const userInfo = match[2]!;
  const rest = url.slice(match[0].length);
  if (/^https?:\/\/$/i.test(scheme)) return `${scheme}${rest}`;
  const colon = userInfo.indexOf(':');
  return colon === -1 ? url : `${scheme}${userInfo.slice(0, colon)}@${rest}`;
}
