package org.jenkinsci.plugins.workflow.support.steps.input

import hudson.model.User
import jenkins.model.CauseOfInterruption

/** Like Jenkins' input Rejection: the cause when someone clicks Abort on an `input`. */
class Rejection extends CauseOfInterruption {
    final User user
    final long timestamp
    Rejection(User user) { this.user = user; this.timestamp = System.currentTimeMillis() }
    User getUser() { user }
    String getShortDescription() { user != null ? "Rejected by ${user.displayName}".toString() : 'Rejected' }
}
