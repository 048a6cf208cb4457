/**
 * The one place where secrets are removed from text that may reach a log, an error
 * message or a report: driver messages can echo a DSN, a URI with credentials or a
 * `password=` pair, and a caller may know further secret values (a password read
 * from the environment) that must not appear verbatim anywhere.
 */

// scheme://user:password@host for every scheme we connect with (postgres, bolt, neo4j, http(s) for OTLP).
const urlCredentials = /\b([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi
// libpq keyword pairs and similar: password=..., password: ..., pwd=...
const passwordPairs = /\b(password|passwd|pwd)(\s*[=:]\s*)('[^']*'|"[^"]*"|[^\s,;&]+)/gi

/** Text with URL passwords, `password=` pairs and every given secret value replaced by `***`. */
export const redact = (text: string, secrets: ReadonlyArray<string> = []): string => {
  let out = text.replace(urlCredentials, "$1***@").replace(passwordPairs, "$1$2***")
  for (const s of secrets) {
    // Very short values would blank out ordinary words; a 1-3 character password is not worth hiding that way.
    if (s.length >= 4) out = out.split(s).join("***")
  }
  return out
}

/** A URL or DSN with its password replaced, for messages that must say where we tried to connect. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url)
    if (u.password !== "") u.password = "***"
    // A password can also ride in the query string (libpq's ?password=...).
    return redact(u.toString())
  } catch {
    return redact(url)
  }
}
