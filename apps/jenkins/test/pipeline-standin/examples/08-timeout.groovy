// The pipeline timeout interrupts a running sh: SIGTERM to its process group, SIGKILL 10 s later
// for a process that ignores SIGTERM; the build is ABORTED ("Timeout has been exceeded").
pipeline {
    agent any
    options {
        timeout(time: 3, unit: 'SECONDS')
    }
    stages {
        stage('Background') {
            steps {
                // left running by a finished sh: killed when the build ends (Jenkins' ProcessTreeKiller)
                sh 'nohup setsid sleep 120 > /dev/null 2>&1 & echo $! > background.pid'
            }
        }
        stage('Slow') {
            steps {
                sh '''
                    echo "$$" > pgid.txt
                    ( trap "" TERM; sleep 60 ) &
                    echo started
                    sleep 60
                '''
            }
        }
        stage('Never') {
            steps { echo 'must not run' }
        }
    }
    post {
        aborted { echo "post aborted: ${currentBuild.result}" }
        always { sh 'echo post sh still runs' }
    }
}
