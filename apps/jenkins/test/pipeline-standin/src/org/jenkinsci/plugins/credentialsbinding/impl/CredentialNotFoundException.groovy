package org.jenkinsci.plugins.credentialsbinding.impl

import hudson.AbortException

/** Like the credentials-binding plugin's exception for a missing or mistyped credential. */
class CredentialNotFoundException extends AbortException {
    CredentialNotFoundException(String message) { super(message) }
}
