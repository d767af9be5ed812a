package hudson.model

/** Minimal hudson.model.User: what Rejection.getUser() returns. */
class User implements Serializable {
    final String id
    User(String id) { this.id = id }
    String getId() { id }
    String getFullName() { id }
    String getDisplayName() { id }
    String toString() { id }
}
