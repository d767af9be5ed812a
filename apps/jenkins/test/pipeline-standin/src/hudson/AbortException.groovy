package hudson

/** Like Jenkins' hudson.AbortException: a failure whose message alone is shown ("ERROR: message"), no stack trace. */
class AbortException extends IOException {
    AbortException(String message) { super(message) }
}
