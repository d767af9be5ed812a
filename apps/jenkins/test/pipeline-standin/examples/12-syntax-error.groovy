// Not valid Groovy: the result file is still written (FAILURE, with the compiler's message).
pipeline {
    agent any
    stages {
        stage('Broken') {
            steps {
                echo 'unterminated
            }
        }
    }
}
