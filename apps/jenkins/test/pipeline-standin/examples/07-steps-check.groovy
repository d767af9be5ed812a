// Compile-time check of Jenkins' declarative parser: only steps inside steps {} (use script {} for Groovy).
pipeline {
    agent any
    stages {
        stage('Groovy in steps') {
            steps {
                def x = 1
                echo "x=${x}"
                if (x == 1) { echo 'one' }
                currentBuild.description = 'nope'
            }
        }
    }
    post {
        always {
            withEnv(['A=b']) {
                env.FOO = 'bar'
            }
        }
    }
}
