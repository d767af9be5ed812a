// Reads a library resource and calls another var.
def call() {
    String text = libraryResource('rel/notes.txt').trim()
    relGreet(name: 'notes')
    return text
}
