// Assorted steps: parallel step, dir, withEnv (PATH+X), sh returnStdout/returnStatus/label,
// retry, catchError, warnError, sleep inside timeout, an unknown step (NoSuchMethodError).
pipeline {
    agent any
    stages {
        stage('Fan out') {
            steps {
                script {
                    def results = parallel(
                        a: { sh 'sleep 1; echo A-done'; return 'a' },
                        b: { sh 'sleep 1; echo B-done'; return 'b' }
                    )
                    echo "results=${results.a}${results.b}"
                }
            }
        }
        stage('Shell') {
            steps {
                dir('sub/dir') {
                    writeFile file: 'tool', text: '#!/bin/sh\necho tool-ran "$@"\n'
                    sh 'chmod +x tool && pwd > ../../where.txt'
                }
                withEnv(['PATH+TOOLS=' + "${env.WORKSPACE}/sub/dir", 'GREETING=hi']) {
                    sh label: 'uses the tool', script: 'tool $GREETING'
                }
                script {
                    def out = sh(script: 'echo captured; echo to-stderr >&2', returnStdout: true)
                    def code = sh(script: 'exit 5', returnStatus: true)
                    echo "out=[${out.trim()}] code=${code} where=${readFile('where.txt').trim()}"
                }
            }
        }
        stage('Error handling') {
            steps {
                retry(3) {
                    sh '[ -f attempt2 ] || { [ -f attempt1 ] && touch attempt2; } || { touch attempt1; false; }; [ -f attempt2 ]'
                }
                catchError(buildResult: 'SUCCESS', stageResult: 'UNSTABLE') {
                    error 'caught by catchError'
                }
                warnError('warned') {
                    sh 'exit 2'
                }
                timeout(time: 1, unit: 'SECONDS') {
                    script {
                        try {
                            sleep 5
                        } catch (err) {
                            echo "sleep interrupted: ${err.causes[0].shortDescription}"
                        }
                    }
                }
                script {
                    try {
                        noSuchStep 'x'
                    } catch (Throwable t) {
                        echo "unknown step: ${t.getClass().name}: ${t.message.take(40)}"
                    }
                }
            }
        }
    }
}
