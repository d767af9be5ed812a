// A library var: relGreet(name: 'x') is its call(); other methods are callable as relGreet.method(...)
def call(Map args = [:]) {
    String who = args.name ?: 'world'
    echo "hello ${who} from ${env.STAGE_NAME}"
    return shout(who)
}

// Another method of the var: calls steps itself.
String shout(String who) {
    sh "echo SHOUT ${who.toUpperCase()}"
    return who.toUpperCase()
}

// Steps with a result, used from a script {} block.
int exitOf(String command) {
    return sh(script: command, returnStatus: true)
}
