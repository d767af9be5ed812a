// withCredentials bindings reach sh as environment variables (and are NOT masked by the stand-in);
// environment { X = credentials('id') }; an unknown credential ID fails the stage.
pipeline {
    agent any
    environment {
        REGISTRY = credentials('rel-registry')
    }
    stages {
        stage('Bindings') {
            steps {
                withCredentials([string(credentialsId: 'rel-registry-token', variable: 'TOKEN'),
                                 usernamePassword(credentialsId: 'rel-registry', usernameVariable: 'REG_USER', passwordVariable: 'REG_PASS')]) {
                    sh 'echo "token=$TOKEN user=$REG_USER pass=$REG_PASS"'
                    sh "echo interpolated ${TOKEN}"
                    script {
                        if (env.TOKEN != 's3cr3t-token') error("env.TOKEN is ${env.TOKEN}")
                    }
                }
                sh 'echo "after: token=${TOKEN:-unset} registry=$REGISTRY usr=$REGISTRY_USR psw=$REGISTRY_PSW"'
            }
        }
        stage('Unknown ID') {
            steps {
                withCredentials([string(credentialsId: 'no-such-credential', variable: 'NOPE')]) {
                    sh 'echo must not run'
                }
            }
        }
    }
}
