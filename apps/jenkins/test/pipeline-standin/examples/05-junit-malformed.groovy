// A report that is not well-formed XML fails the junit step (the stage FAILS, the rest is skipped).
pipeline {
    agent any
    stages {
        stage('Bad time') {
            steps {
                sh 'cp "$FIXTURES/junit-badtime.xml" badtime.xml'
                script {
                    try {
                        junit 'badtime.xml'
                    } catch (err) {
                        echo "rejected: ${err.message.readLines()[-1]}"
                    }
                }
            }
        }
        stage('Malformed') {
            steps {
                sh 'mkdir -p rel-report && cp "$FIXTURES/junit-malformed.xml" rel-report/junit.xml'
                junit(testResults: 'rel-report/junit.xml', allowEmptyResults: true, skipMarkingBuildUnstable: true)
            }
        }
        stage('No report') {
            steps {
                junit 'missing/*.xml'
            }
        }
    }
}
